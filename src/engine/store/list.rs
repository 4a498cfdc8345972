//! List values: one packed buffer while small, a deque of packed nodes
//! (the equivalent of Redis's quicklist of listpacks) once the buffer
//! passes `list-max-listpack-size`.
//!
//! An entry is `[length][bytes][length backwards]`: the length as a
//! little-endian base-128 varint, and again with its bytes reversed after
//! the data, so a node can be walked from either end (as listpack's
//! backlen allows). Entries up to 127 bytes cost two bytes of framing.

use std::collections::VecDeque;
use std::ops::Range;

/// Node size limits from `list-max-listpack-size`: negative values cap a
/// node's bytes (-1: 4 KB ... -5: 64 KB), positive ones its entries (with
/// Redis's 8 KB safety limit on bytes).
#[derive(Clone, Copy, Debug)]
pub struct ListLimits {
    pub max_bytes: usize,
    pub max_entries: usize,
}

impl ListLimits {
    pub fn from_config(size: i64) -> ListLimits {
        if size < 0 {
            let shift = (-size).clamp(1, 5) as u32 - 1;
            ListLimits {
                max_bytes: 4096 << shift,
                max_entries: usize::MAX,
            }
        } else {
            ListLimits {
                max_bytes: 8192,
                max_entries: size.max(1) as usize,
            }
        }
    }

    fn fits(&self, bytes: usize, count: usize) -> bool {
        bytes <= self.max_bytes && count <= self.max_entries
    }
}

impl Default for ListLimits {
    fn default() -> Self {
        ListLimits::from_config(-2)
    }
}

// ------------------------------------------------------------ entries

fn varint_len(n: usize) -> usize {
    let mut len = 1;
    let mut n = n >> 7;
    while n > 0 {
        len += 1;
        n >>= 7;
    }
    len
}

/// Bytes an entry of `n` data bytes takes.
fn entry_size(n: usize) -> usize {
    2 * varint_len(n) + n
}

fn write_entry(out: &mut Vec<u8>, item: &[u8]) {
    let mut head = [0u8; 10];
    let mut n = item.len();
    let mut k = 0;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            head[k] = b;
            k += 1;
            break;
        }
        head[k] = b | 0x80;
        k += 1;
    }
    out.extend_from_slice(&head[..k]);
    out.extend_from_slice(item);
    out.extend(head[..k].iter().rev());
}

fn encoded(item: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(entry_size(item.len()));
    write_entry(&mut v, item);
    v
}

/// The entry starting at `at`: its data range and where the next begins.
fn read_forward(buf: &[u8], at: usize) -> (Range<usize>, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut p = at;
    loop {
        let b = buf[p];
        p += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let framing = p - at;
    (p..p + n, p + n + framing)
}

/// The entry ending at `end`: its data range and where it begins.
fn read_backward(buf: &[u8], end: usize) -> (Range<usize>, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut p = end;
    loop {
        p -= 1;
        let b = buf[p];
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let framing = end - p;
    (p - n..p, p - n - framing)
}

/// A double-ended walk over the entries of `buf[front..back]`.
#[derive(Clone)]
pub struct Walk<'a> {
    buf: &'a [u8],
    front: usize,
    back: usize,
}

impl<'a> Walk<'a> {
    fn new(buf: &'a [u8]) -> Walk<'a> {
        Walk {
            buf,
            front: 0,
            back: buf.len(),
        }
    }

    /// Byte offset of the `k`-th entry, walking from whichever end is nearer.
    fn offset_of(buf: &[u8], count: usize, k: usize) -> usize {
        if k <= count / 2 {
            let mut at = 0;
            for _ in 0..k {
                at = read_forward(buf, at).1;
            }
            at
        } else {
            let mut end = buf.len();
            for _ in 0..count - k {
                end = read_backward(buf, end).1;
            }
            end
        }
    }
}

impl<'a> Iterator for Walk<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.front >= self.back {
            return None;
        }
        let (r, next) = read_forward(self.buf, self.front);
        self.front = next;
        Some(&self.buf[r])
    }
}

impl DoubleEndedIterator for Walk<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let (r, start) = read_backward(self.buf, self.back);
        self.back = start;
        Some(&self.buf[r])
    }
}

// ------------------------------------------------------------ nodes

/// A run of packed entries.
#[derive(Clone, Default)]
struct Node {
    data: Vec<u8>,
    count: u32,
}

impl Node {
    fn from_items<'a>(items: impl Iterator<Item = &'a [u8]>) -> Node {
        let mut n = Node::default();
        for it in items {
            write_entry(&mut n.data, it);
            n.count += 1;
        }
        n
    }

    fn walk(&self) -> Walk<'_> {
        Walk::new(&self.data)
    }

    /// Splits into nodes that each fit `limits` (at least one entry each).
    fn split(self, limits: &ListLimits) -> Vec<Node> {
        if limits.fits(self.data.len(), self.count as usize) {
            return vec![self];
        }
        let mut out = Vec::new();
        let mut cur = Node::default();
        for it in self.walk() {
            let size = entry_size(it.len());
            if cur.count > 0 && !limits.fits(cur.data.len() + size, cur.count as usize + 1) {
                out.push(std::mem::take(&mut cur));
            }
            write_entry(&mut cur.data, it);
            cur.count += 1;
        }
        if cur.count > 0 {
            out.push(cur);
        }
        out
    }
}

// ------------------------------------------------------------ the value

/// Small lists: `[count: u32 LE][entries]` in one exactly sized allocation.
const SMALL_HEADER: usize = 4;

/// A large list: nodes in order, with totals kept as they change.
#[derive(Clone, Default)]
pub struct Quick {
    nodes: VecDeque<Node>,
    len: usize,
    /// Sum of the nodes' buffer capacities.
    bytes: usize,
}

/// A list value.
#[derive(Clone)]
pub enum ListValue {
    Small(Box<[u8]>),
    Big(Box<Quick>),
}

impl Default for ListValue {
    fn default() -> Self {
        ListValue::Small(Box::new([0; SMALL_HEADER]))
    }
}

fn small_count(b: &[u8]) -> usize {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
}

fn small_from(node: &Node) -> Box<[u8]> {
    let mut v = Vec::with_capacity(SMALL_HEADER + node.data.len());
    v.extend_from_slice(&node.count.to_le_bytes());
    v.extend_from_slice(&node.data);
    v.into_boxed_slice()
}

impl ListValue {
    /// A list of `items` in order.
    pub fn from_items<'a>(items: impl Iterator<Item = &'a [u8]>, limits: &ListLimits) -> ListValue {
        let mut l = ListValue::default();
        l.replace_with(Node::from_items(items), limits);
        l
    }

    pub fn len(&self) -> usize {
        match self {
            ListValue::Small(b) => small_count(b),
            ListValue::Big(q) => q.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes on the heap.
    pub fn heap_size(&self) -> usize {
        match self {
            ListValue::Small(b) => b.len(),
            ListValue::Big(q) => {
                std::mem::size_of::<Quick>()
                    + q.nodes.capacity() * std::mem::size_of::<Node>()
                    + q.bytes
            }
        }
    }

    #[inline]
    pub fn prefetch(&self) {
        match self {
            ListValue::Small(b) => super::prefetch(b.as_ptr()),
            ListValue::Big(q) => super::prefetch(&**q),
        }
    }

    /// Stores the entries of `node` as this list, small or big per `limits`.
    fn replace_with(&mut self, node: Node, limits: &ListLimits) {
        if limits.fits(node.data.len(), node.count as usize) {
            *self = ListValue::Small(small_from(&node));
            return;
        }
        let mut q = Quick {
            len: node.count as usize,
            ..Quick::default()
        };
        for n in node.split(limits) {
            q.bytes += n.data.capacity();
            q.nodes.push_back(n);
        }
        *self = ListValue::Big(Box::new(q));
    }

    /// Makes the list a quicklist (for edits that work node by node).
    fn big(&mut self) -> &mut Quick {
        if let ListValue::Small(b) = self {
            let data = b[SMALL_HEADER..].to_vec();
            let count = small_count(b) as u32;
            let mut q = Quick {
                len: count as usize,
                bytes: data.capacity(),
                ..Quick::default()
            };
            if count > 0 {
                q.nodes.push_back(Node { data, count });
            } else {
                q.bytes = 0;
            }
            *self = ListValue::Big(Box::new(q));
        }
        match self {
            ListValue::Big(q) => q,
            ListValue::Small(_) => unreachable!(),
        }
    }

    /// Returns to the small form when one node is left and it is well
    /// under the limit.
    fn settle(&mut self, limits: &ListLimits) {
        if let ListValue::Big(q) = self {
            let single = match q.nodes.len() {
                0 => Some(Node::default()),
                1 if limits.fits(q.nodes[0].data.len() * 2, q.nodes[0].count as usize * 2) => {
                    q.nodes.pop_front()
                }
                _ => None,
            };
            if let Some(n) = single {
                *self = ListValue::Small(small_from(&n));
            }
        }
    }

    /// Pushes at the head or the tail.
    pub fn push(&mut self, front: bool, item: &[u8], limits: &ListLimits) {
        if let ListValue::Small(b) = self {
            let count = small_count(b);
            let size = entry_size(item.len());
            if limits.fits(b.len() - SMALL_HEADER + size, count + 1) {
                let mut v = Vec::with_capacity(b.len() + size);
                v.extend_from_slice(&(count as u32 + 1).to_le_bytes());
                if front {
                    write_entry(&mut v, item);
                    v.extend_from_slice(&b[SMALL_HEADER..]);
                } else {
                    v.extend_from_slice(&b[SMALL_HEADER..]);
                    write_entry(&mut v, item);
                }
                *b = v.into_boxed_slice();
                return;
            }
        }
        let q = self.big();
        q.push(front, item, limits);
    }

    /// Pops from the head or the tail.
    pub fn pop(&mut self, front: bool, limits: &ListLimits) -> Option<Vec<u8>> {
        if let ListValue::Small(b) = self {
            let count = small_count(b);
            if count == 0 {
                return None;
            }
            let body = &b[SMALL_HEADER..];
            let (r, rest) = if front {
                let (r, next) = read_forward(body, 0);
                (r, next..body.len())
            } else {
                let (r, start) = read_backward(body, body.len());
                (r, 0..start)
            };
            let item = body[r].to_vec();
            let mut v = Vec::with_capacity(SMALL_HEADER + rest.len());
            v.extend_from_slice(&(count as u32 - 1).to_le_bytes());
            v.extend_from_slice(&body[rest]);
            *b = v.into_boxed_slice();
            return Some(item);
        }
        let item = self.big().pop(front);
        self.settle(limits);
        item
    }

    /// The element at `i` (0-based from the head), if any.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len() {
            return None;
        }
        match self {
            ListValue::Small(b) => {
                let body = &b[SMALL_HEADER..];
                let at = Walk::offset_of(body, small_count(b), i);
                Some(&body[read_forward(body, at).0])
            }
            ListValue::Big(q) => {
                let (n, k) = q.locate(i);
                let node = &q.nodes[n];
                let at = Walk::offset_of(&node.data, node.count as usize, k);
                Some(&node.data[read_forward(&node.data, at).0])
            }
        }
    }

    /// Elements from index `start` on, head to tail.
    pub fn iter_from(&self, start: usize) -> Box<dyn Iterator<Item = &[u8]> + '_> {
        match self {
            ListValue::Small(b) => {
                let body = &b[SMALL_HEADER..];
                let at = Walk::offset_of(body, small_count(b), start.min(small_count(b)));
                Box::new(Walk {
                    buf: body,
                    front: at,
                    back: body.len(),
                })
            }
            ListValue::Big(q) => {
                if start >= q.len {
                    return Box::new(std::iter::empty());
                }
                let (n, k) = q.locate(start);
                let first = &q.nodes[n];
                let at = Walk::offset_of(&first.data, first.count as usize, k);
                let head = Walk {
                    buf: &first.data,
                    front: at,
                    back: first.data.len(),
                };
                Box::new(head.chain(q.nodes.range(n + 1..).flat_map(|n| n.walk())))
            }
        }
    }

    /// Elements from index `end` (inclusive) back to the head.
    pub fn iter_back_from(&self, end: usize) -> Box<dyn Iterator<Item = &[u8]> + '_> {
        let len = self.len();
        if len == 0 {
            return Box::new(std::iter::empty());
        }
        let end = end.min(len - 1);
        match self {
            ListValue::Small(b) => {
                let body = &b[SMALL_HEADER..];
                let stop = Walk::offset_of(body, small_count(b), end + 1);
                Box::new(
                    Walk {
                        buf: body,
                        front: 0,
                        back: stop,
                    }
                    .rev(),
                )
            }
            ListValue::Big(q) => {
                let (n, k) = q.locate(end);
                let last = &q.nodes[n];
                let stop = Walk::offset_of(&last.data, last.count as usize, k + 1);
                let tail = Walk {
                    buf: &last.data,
                    front: 0,
                    back: stop,
                }
                .rev();
                Box::new(tail.chain(q.nodes.range(..n).rev().flat_map(|n| n.walk().rev())))
            }
        }
    }

    /// Every element, head to tail.
    pub fn iter(&self) -> Box<dyn Iterator<Item = &[u8]> + '_> {
        self.iter_from(0)
    }

    /// Replaces the element at `i` (which must exist).
    pub fn set(&mut self, i: usize, item: &[u8], limits: &ListLimits) {
        self.edit_at(i, limits, |old, k, out| {
            for (j, e) in old.walk().enumerate() {
                write_entry(out, if j == k { item } else { e });
            }
            0
        });
    }

    /// Inserts before (or after) the element at `i` (which must exist).
    pub fn insert(&mut self, i: usize, after: bool, item: &[u8], limits: &ListLimits) {
        self.edit_at(i, limits, |old, k, out| {
            for (j, e) in old.walk().enumerate() {
                if j == k && !after {
                    write_entry(out, item);
                }
                write_entry(out, e);
                if j == k && after {
                    write_entry(out, item);
                }
            }
            1
        });
    }

    /// Rebuilds the node holding index `i` with `f` (given the old node,
    /// the index within it and the output buffer; it returns the change in
    /// entries), splitting the result to fit `limits`.
    fn edit_at(
        &mut self,
        i: usize,
        limits: &ListLimits,
        f: impl FnOnce(&Node, usize, &mut Vec<u8>) -> i64,
    ) {
        if let ListValue::Small(b) = self {
            let old = Node {
                data: b[SMALL_HEADER..].to_vec(),
                count: small_count(b) as u32,
            };
            let mut out = Vec::with_capacity(old.data.len() + 16);
            let delta = f(&old, i, &mut out);
            let node = Node {
                data: out,
                count: (old.count as i64 + delta) as u32,
            };
            self.replace_with(node, limits);
            return;
        }
        let q = self.big();
        let (n, k) = q.locate(i);
        let old = q.nodes.remove(n).expect("located");
        q.bytes -= old.data.capacity();
        let mut out = Vec::with_capacity(old.data.len() + 16);
        let delta = f(&old, k, &mut out);
        q.len = (q.len as i64 + delta) as usize;
        let node = Node {
            data: out,
            count: (old.count as i64 + delta) as u32,
        };
        for (j, part) in node.split(limits).into_iter().enumerate() {
            q.bytes += part.data.capacity();
            q.nodes.insert(n + j, part);
        }
    }

    /// Removes up to `limit` elements equal to `item` (0: all), from the
    /// head or from the tail; returns how many.
    pub fn remove(
        &mut self,
        item: &[u8],
        limit: usize,
        from_tail: bool,
        limits: &ListLimits,
    ) -> usize {
        let mut left = if limit == 0 { usize::MAX } else { limit };
        let mut removed = 0;
        let q = self.big();
        let order: Vec<usize> = if from_tail {
            (0..q.nodes.len()).rev().collect()
        } else {
            (0..q.nodes.len()).collect()
        };
        for n in order {
            if left == 0 {
                break;
            }
            let node = &q.nodes[n];
            if !node.walk().any(|e| e == item) {
                continue;
            }
            // Which of this node's matches go, in the scan's direction.
            let matches: Vec<usize> = node
                .walk()
                .enumerate()
                .filter(|(_, e)| *e == item)
                .map(|(j, _)| j)
                .collect();
            let take = matches.len().min(left);
            let gone: Vec<usize> = if from_tail {
                matches[matches.len() - take..].to_vec()
            } else {
                matches[..take].to_vec()
            };
            let mut out = Vec::with_capacity(node.data.len());
            let mut g = gone.iter().peekable();
            for (j, e) in node.walk().enumerate() {
                if g.peek() == Some(&&j) {
                    g.next();
                    continue;
                }
                write_entry(&mut out, e);
            }
            let node = &mut q.nodes[n];
            q.bytes = q.bytes - node.data.capacity() + out.capacity();
            node.data = out;
            node.count -= take as u32;
            left -= take;
            removed += take;
        }
        q.len -= removed;
        q.drop_empty_nodes();
        self.settle(limits);
        removed
    }

    /// Keeps only indexes `start..=end` (both within the list).
    pub fn trim(&mut self, start: usize, end: usize, limits: &ListLimits) {
        let keep = end + 1 - start;
        if start == 0 && keep == self.len() {
            return;
        }
        if let ListValue::Small(_) = self {
            let node = Node::from_items(self.iter_from(start).take(keep));
            self.replace_with(node, limits);
            return;
        }
        let q = self.big();
        // Whole nodes before `start` and after `end` go first.
        let mut skip = start;
        while let Some(front) = q.nodes.front() {
            if (front.count as usize) > skip {
                break;
            }
            skip -= front.count as usize;
            q.bytes -= front.data.capacity();
            q.nodes.pop_front();
        }
        let mut total: usize = q.nodes.iter().map(|n| n.count as usize).sum();
        let mut drop_tail = total - skip - keep;
        while let Some(back) = q.nodes.back() {
            if (back.count as usize) > drop_tail {
                break;
            }
            drop_tail -= back.count as usize;
            total -= back.count as usize;
            q.bytes -= back.data.capacity();
            q.nodes.pop_back();
        }
        let _ = total;
        if skip > 0 {
            let front = q.nodes.front_mut().expect("kept elements");
            let at = Walk::offset_of(&front.data, front.count as usize, skip);
            let before = front.data.capacity();
            front.data.drain(..at);
            front.data.shrink_to_fit();
            front.count -= skip as u32;
            q.bytes = q.bytes - before + front.data.capacity();
        }
        if drop_tail > 0 {
            let back = q.nodes.back_mut().expect("kept elements");
            let keep_in = back.count as usize - drop_tail;
            let at = Walk::offset_of(&back.data, back.count as usize, keep_in);
            let before = back.data.capacity();
            back.data.truncate(at);
            back.data.shrink_to_fit();
            back.count = keep_in as u32;
            q.bytes = q.bytes - before + back.data.capacity();
        }
        q.len = keep;
        self.settle(limits);
    }
}

impl Quick {
    /// The node holding index `i` and the index within it.
    fn locate(&self, mut i: usize) -> (usize, usize) {
        if i < self.len / 2 {
            for (n, node) in self.nodes.iter().enumerate() {
                if i < node.count as usize {
                    return (n, i);
                }
                i -= node.count as usize;
            }
        } else {
            let mut from_end = self.len - i;
            for (n, node) in self.nodes.iter().enumerate().rev() {
                if from_end <= node.count as usize {
                    return (n, node.count as usize - from_end);
                }
                from_end -= node.count as usize;
            }
        }
        unreachable!("index {i} within a list of {}", self.len)
    }

    fn push(&mut self, front: bool, item: &[u8], limits: &ListLimits) {
        let size = entry_size(item.len());
        let end = if front {
            self.nodes.front_mut()
        } else {
            self.nodes.back_mut()
        };
        match end {
            Some(node) if limits.fits(node.data.len() + size, node.count as usize + 1) => {
                let before = node.data.capacity();
                if front {
                    node.data.splice(0..0, encoded(item));
                } else {
                    write_entry(&mut node.data, item);
                }
                node.count += 1;
                self.bytes = self.bytes - before + node.data.capacity();
            }
            _ => {
                let mut node = Node::default();
                write_entry(&mut node.data, item);
                node.count = 1;
                self.bytes += node.data.capacity();
                if front {
                    self.nodes.push_front(node);
                } else {
                    self.nodes.push_back(node);
                }
            }
        }
        self.len += 1;
    }

    fn pop(&mut self, front: bool) -> Option<Vec<u8>> {
        let node = if front {
            self.nodes.front_mut()?
        } else {
            self.nodes.back_mut()?
        };
        let before = node.data.capacity();
        let item = if front {
            let (r, next) = read_forward(&node.data, 0);
            let item = node.data[r].to_vec();
            node.data.drain(..next);
            item
        } else {
            let (r, start) = read_backward(&node.data, node.data.len());
            let item = node.data[r].to_vec();
            node.data.truncate(start);
            item
        };
        node.count -= 1;
        if node.data.capacity() > 64 && node.data.len() < node.data.capacity() / 4 {
            node.data.shrink_to_fit();
        }
        self.bytes = self.bytes - before + node.data.capacity();
        self.len -= 1;
        if node.count == 0 {
            self.bytes -= node.data.capacity();
            if front {
                self.nodes.pop_front();
            } else {
                self.nodes.pop_back();
            }
        }
        Some(item)
    }

    fn drop_empty_nodes(&mut self) {
        let before: usize = self.nodes.len();
        let mut freed = 0;
        self.nodes.retain(|n| {
            if n.count == 0 {
                freed += n.data.capacity();
                false
            } else {
                true
            }
        });
        if self.nodes.len() != before {
            self.bytes -= freed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model list and a ListValue driven by the same operations.
    fn check(l: &ListValue, model: &VecDeque<Vec<u8>>) {
        assert_eq!(l.len(), model.len());
        let all: Vec<&[u8]> = l.iter().collect();
        let want: Vec<&[u8]> = model.iter().map(|v| v.as_slice()).collect();
        assert_eq!(all, want);
        for (i, v) in model.iter().enumerate() {
            assert_eq!(l.get(i), Some(v.as_slice()));
        }
        let back: Vec<&[u8]> = l.iter_back_from(model.len().saturating_sub(1)).collect();
        let mut rev = want.clone();
        rev.reverse();
        assert_eq!(back, rev);
        if let ListValue::Big(q) = l {
            let counted: usize = q.nodes.iter().map(|n| n.count as usize).sum();
            assert_eq!(counted, q.len);
            let bytes: usize = q.nodes.iter().map(|n| n.data.capacity()).sum();
            assert_eq!(bytes, q.bytes);
            assert!(q.nodes.iter().all(|n| n.count > 0));
        }
    }

    #[test]
    fn operations_match_a_model_across_node_boundaries() {
        let limits = ListLimits::from_config(4);
        let mut rng = 12345u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut l = ListValue::default();
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        for step in 0..4000 {
            let r = next();
            let item = format!("v{}", r % 13).into_bytes();
            let long = vec![b'x'; (r % 300) as usize];
            match r % 9 {
                0 | 1 => {
                    l.push(true, &item, &limits);
                    model.push_front(item);
                }
                2 | 3 => {
                    l.push(false, &long, &limits);
                    model.push_back(long);
                }
                4 => assert_eq!(
                    l.pop(r % 2 == 0, &limits),
                    if r % 2 == 0 {
                        model.pop_front()
                    } else {
                        model.pop_back()
                    }
                ),
                5 if !model.is_empty() => {
                    let i = (r as usize / 9) % model.len();
                    l.set(i, &item, &limits);
                    model[i] = item;
                }
                6 if !model.is_empty() => {
                    let i = (r as usize / 9) % model.len();
                    let after = r % 2 == 0;
                    l.insert(i, after, &item, &limits);
                    model.insert(if after { i + 1 } else { i }, item);
                }
                7 => {
                    let limit = (r / 9 % 3) as usize;
                    let tail = r % 2 == 0;
                    let got = l.remove(&item, limit, tail, &limits);
                    let mut want = 0;
                    let mut left = if limit == 0 { usize::MAX } else { limit };
                    if tail {
                        let mut i = model.len();
                        while i > 0 && left > 0 {
                            i -= 1;
                            if model[i] == item {
                                model.remove(i);
                                want += 1;
                                left -= 1;
                            }
                        }
                    } else {
                        let mut i = 0;
                        while i < model.len() && left > 0 {
                            if model[i] == item {
                                model.remove(i);
                                want += 1;
                                left -= 1;
                            } else {
                                i += 1;
                            }
                        }
                    }
                    assert_eq!(got, want, "step {step}");
                }
                8 if model.len() > 4 && step % 50 == 0 => {
                    let a = (r as usize / 9) % 3;
                    let b = model.len() - 1 - (r as usize / 27) % 3;
                    l.trim(a, b, &limits);
                    model = model.range(a..=b).cloned().collect();
                }
                _ => {}
            }
            check(&l, &model);
        }
    }

    #[test]
    fn small_lists_are_one_exact_allocation() {
        let limits = ListLimits::default();
        let mut l = ListValue::default();
        for i in 0..10 {
            l.push(false, format!("item:{i}").as_bytes(), &limits);
        }
        assert!(matches!(l, ListValue::Small(_)));
        // 4 header bytes + 10 entries of 6 bytes and 2 of framing.
        assert_eq!(l.heap_size(), 4 + 10 * 8);
        let big: Vec<Vec<u8>> = (0..3000)
            .map(|i| format!("element-{i}").into_bytes())
            .collect();
        let l = ListValue::from_items(big.iter().map(|v| v.as_slice()), &limits);
        assert!(matches!(l, ListValue::Big(_)));
        assert_eq!(l.len(), 3000);
        assert_eq!(l.get(2999), Some(&b"element-2999"[..]));
    }
}
