//! COMMAND DOCS support: each table row carries its syntax as one line, and
//! this module turns that line into Redis's argument descriptions (the
//! structure `redis-cli` uses for its hints).
//!
//! Syntax: `name` is an argument (type from a `:type` suffix, `key` for key
//! names, else `string`); an UPPERCASE word is a token, followed by its
//! argument when one comes next (`EX seconds:integer`) or standing alone
//! (`NX`); `[...]` is optional, `(...)` groups, `a|b` chooses one, and a
//! trailing `...` repeats the item before it.

use crate::protocol::Reply;

#[derive(Debug, Clone, PartialEq)]
pub struct ArgDoc {
    pub name: String,
    pub kind: &'static str,
    pub token: Option<String>,
    pub optional: bool,
    pub multiple: bool,
    pub args: Vec<ArgDoc>,
}

#[derive(Debug, PartialEq)]
enum Tok {
    Open(char),
    Close(char),
    Pipe,
    Ellipsis,
    Word(String),
}

fn tokenize(s: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<Tok>| {
        if !word.is_empty() {
            out.push(Tok::Word(std::mem::take(word)));
        }
    };
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' | '(' => {
                flush(&mut word, &mut out);
                out.push(Tok::Open(c));
            }
            ']' | ')' => {
                flush(&mut word, &mut out);
                out.push(Tok::Close(c));
            }
            '|' => {
                flush(&mut word, &mut out);
                out.push(Tok::Pipe);
            }
            '.' if word.is_empty() || chars.peek() == Some(&'.') => {
                if chars.peek() == Some(&'.') {
                    chars.next();
                    chars.next();
                    flush(&mut word, &mut out);
                    out.push(Tok::Ellipsis);
                } else {
                    word.push(c);
                }
            }
            ' ' => flush(&mut word, &mut out),
            _ => word.push(c),
        }
    }
    flush(&mut word, &mut out);
    out
}

fn is_token(w: &str) -> bool {
    w.chars().any(|c| c.is_ascii_uppercase()) && !w.chars().any(|c| c.is_ascii_lowercase())
}

fn plain_arg(word: &str) -> ArgDoc {
    let (name, kind) = match word.split_once(':') {
        Some((n, "integer")) => (n, "integer"),
        Some((n, "double")) => (n, "double"),
        Some((n, "pattern")) => (n, "pattern"),
        Some((n, "unix-time")) => (n, "unix-time"),
        Some((n, _)) => (n, "string"),
        None if matches!(word, "key" | "newkey" | "source" | "destination") => (word, "key"),
        None => (word, "string"),
    };
    ArgDoc {
        name: name.to_string(),
        kind,
        token: None,
        optional: false,
        multiple: false,
        args: Vec::new(),
    }
}

struct P {
    toks: Vec<Tok>,
    pos: usize,
    counter: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    /// Alternatives separated by `|` until a closing bracket or the end.
    fn alternatives(&mut self) -> Result<Vec<Vec<ArgDoc>>, String> {
        let mut alts = vec![self.sequence()?];
        while self.peek() == Some(&Tok::Pipe) {
            self.pos += 1;
            alts.push(self.sequence()?);
        }
        Ok(alts)
    }

    fn sequence(&mut self) -> Result<Vec<ArgDoc>, String> {
        let mut items = Vec::new();
        while let Some(t) = self.peek() {
            if matches!(t, Tok::Close(_) | Tok::Pipe) {
                break;
            }
            let mut item = self.item()?;
            if self.peek() == Some(&Tok::Ellipsis) {
                self.pos += 1;
                item.multiple = true;
            }
            items.push(item);
        }
        Ok(items)
    }

    fn group(&mut self, alts: Vec<Vec<ArgDoc>>) -> ArgDoc {
        self.counter += 1;
        if alts.len() > 1 {
            let args = alts
                .into_iter()
                .map(|mut seq| {
                    if seq.len() == 1 {
                        seq.pop().unwrap()
                    } else {
                        self.counter += 1;
                        ArgDoc {
                            name: format!("block{}", self.counter),
                            kind: "block",
                            token: None,
                            optional: false,
                            multiple: false,
                            args: seq,
                        }
                    }
                })
                .collect();
            return ArgDoc {
                name: format!("choice{}", self.counter),
                kind: "oneof",
                token: None,
                optional: false,
                multiple: false,
                args,
            };
        }
        let mut seq = alts.into_iter().next().unwrap_or_default();
        if seq.len() == 1 {
            return seq.pop().unwrap();
        }
        ArgDoc {
            name: seq
                .first()
                .map(|a| a.name.clone())
                .unwrap_or_else(|| format!("block{}", self.counter)),
            kind: "block",
            token: None,
            optional: false,
            multiple: false,
            args: std::mem::take(&mut seq),
        }
    }

    fn item(&mut self) -> Result<ArgDoc, String> {
        match self.toks.get(self.pos) {
            Some(Tok::Open(c)) => {
                let close = if *c == '[' { ']' } else { ')' };
                let optional = *c == '[';
                self.pos += 1;
                let alts = self.alternatives()?;
                if self.peek() != Some(&Tok::Close(close)) {
                    return Err(format!("expected '{close}'"));
                }
                self.pos += 1;
                let mut g = self.group(alts);
                g.optional |= optional;
                Ok(g)
            }
            Some(Tok::Word(w)) => {
                let w = w.clone();
                self.pos += 1;
                if is_token(&w) {
                    if let Some(Tok::Word(next)) = self.peek() {
                        if !is_token(next) {
                            let mut a = plain_arg(&next.clone());
                            self.pos += 1;
                            a.token = Some(w);
                            return Ok(a);
                        }
                    }
                    return Ok(ArgDoc {
                        name: w.to_ascii_lowercase(),
                        kind: "pure-token",
                        token: Some(w),
                        optional: false,
                        multiple: false,
                        args: Vec::new(),
                    });
                }
                Ok(plain_arg(&w))
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

/// Parses a syntax line into argument descriptions.
pub fn parse_syntax(s: &str) -> Result<Vec<ArgDoc>, String> {
    let mut p = P {
        toks: tokenize(s),
        pos: 0,
        counter: 0,
    };
    let alts = p.alternatives()?;
    if p.pos != p.toks.len() {
        return Err("trailing input".into());
    }
    if alts.len() == 1 {
        return Ok(alts.into_iter().next().unwrap());
    }
    Ok(vec![p.group(alts)])
}

/// Writes one argument description as Redis's COMMAND DOCS map.
pub fn write_arg(out: &mut Reply, a: &ArgDoc) {
    let mut fields = 2;
    fields += a.token.is_some() as usize;
    fields += (a.optional || a.multiple) as usize;
    fields += (!a.args.is_empty()) as usize;
    out.map(fields);
    out.bulk_str("name");
    out.bulk_str(&a.name);
    out.bulk_str("type");
    out.bulk_str(a.kind);
    if let Some(t) = &a.token {
        out.bulk_str("token");
        out.bulk_str(t);
    }
    if a.optional || a.multiple {
        out.bulk_str("flags");
        out.set(a.optional as usize + a.multiple as usize);
        if a.optional {
            out.simple("optional");
        }
        if a.multiple {
            out.simple("multiple");
        }
    }
    if !a.args.is_empty() {
        out.bulk_str("arguments");
        out.array(a.args.len());
        for sub in &a.args {
            write_arg(out, sub);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_syntax() {
        let args = parse_syntax(
            "key value [NX|XX] [GET] [EX seconds:integer|PX milliseconds:integer|KEEPTTL]",
        )
        .unwrap();
        assert_eq!(args.len(), 5);
        assert_eq!(args[0].kind, "key");
        assert_eq!(args[2].kind, "oneof");
        assert!(args[2].optional);
        assert_eq!(args[3].kind, "pure-token");
        assert_eq!(args[4].args[0].token.as_deref(), Some("EX"));
        assert_eq!(args[4].args[0].kind, "integer");
    }

    #[test]
    fn repeated_groups() {
        let args = parse_syntax("key (field value)...").unwrap();
        assert_eq!(args[1].kind, "block");
        assert!(args[1].multiple);
        assert_eq!(args[1].args.len(), 2);
    }
}
