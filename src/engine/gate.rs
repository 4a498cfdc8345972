//! The unit gate: what makes a unit of execution that must see the whole
//! keyspace (FLUSHALL, SWAPDB, a transaction whose keys are not known in
//! advance, a script, the start of a snapshot) exclusive, without making
//! every other command pay for a global lock.
//!
//! Every unit passes the gate. An ordinary unit takes the read side of one
//! of a few padded reader-writer locks, chosen by its thread, so threads
//! never share a cache line on the hot path. An exclusive unit takes the
//! write side of all of them, in order: once it holds them, no other unit
//! is running and none can start, so it may lock any shard in any order.
//!
//! While a script runs past `busy-reply-threshold`, waiting readers stop
//! waiting and their commands are answered `BUSY` (see [`Gate::set_busy`]).

use std::cell::Cell;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

#[repr(align(64))]
struct Slot(RwLock<()>);

pub struct Gate {
    slots: Box<[Slot]>,
    busy: AtomicBool,
}

/// A unit's pass through the gate; the gate reopens when it is dropped.
pub enum Pass<'g> {
    Shared(#[allow(dead_code)] RwLockReadGuard<'g, ()>),
    Exclusive(#[allow(dead_code)] Vec<RwLockWriteGuard<'g, ()>>),
    /// No pass at all, while a busy script holds the gate: only for the
    /// commands Redis serves then (SCRIPT KILL, SHUTDOWN, AUTH...), which
    /// never touch the keyspace.
    Busy,
}

impl Pass<'_> {
    pub fn is_exclusive(&self) -> bool {
        matches!(self, Pass::Exclusive(_))
    }
}

thread_local! {
    /// This thread's slot number before reduction (a hash of its id).
    static THREAD_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn thread_slot() -> usize {
    THREAD_SLOT.with(|c| {
        let v = c.get();
        if v != usize::MAX {
            return v;
        }
        let v = foldhash::fast::FixedState::default().hash_one(std::thread::current().id())
            as usize
            >> 1;
        c.set(v);
        v
    })
}

/// How long a waiting reader waits before it checks for a busy script again.
const RECHECK: Duration = Duration::from_millis(2);

impl Gate {
    /// A gate with `slots` reader slots (about the number of threads that
    /// run units).
    pub fn new(slots: usize) -> Gate {
        Gate {
            slots: (0..slots.max(1)).map(|_| Slot(RwLock::new(()))).collect(),
            busy: AtomicBool::new(false),
        }
    }

    /// Passes as an ordinary unit. `None` when an exclusive unit holds the
    /// gate and reported itself busy (the caller answers BUSY).
    #[inline]
    pub fn shared(&self) -> Option<Pass<'_>> {
        let slot = &self.slots[thread_slot() % self.slots.len()].0;
        if let Some(g) = slot.try_read() {
            return Some(Pass::Shared(g));
        }
        loop {
            if self.busy.load(Relaxed) {
                return None;
            }
            if let Some(g) = slot.try_read_for(RECHECK) {
                return Some(Pass::Shared(g));
            }
        }
    }

    /// Passes as an exclusive unit; `None` when a busy script holds the gate.
    pub fn exclusive(&self) -> Option<Pass<'_>> {
        let mut held = Vec::with_capacity(self.slots.len());
        for s in self.slots.iter() {
            loop {
                if let Some(g) = s.0.try_write_for(RECHECK) {
                    held.push(g);
                    break;
                }
                if self.busy.load(Relaxed) {
                    return None;
                }
            }
        }
        Some(Pass::Exclusive(held))
    }

    /// Set by the exclusive holder while a script runs past the busy
    /// threshold, cleared when it ends.
    pub fn set_busy(&self, busy: bool) {
        self.busy.store(busy, Relaxed);
    }

    pub fn is_busy(&self) -> bool {
        self.busy.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn exclusive_excludes_every_shared_pass() {
        let gate = Arc::new(Gate::new(4));
        let inside = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (gate, inside) = (gate.clone(), inside.clone());
                std::thread::spawn(move || {
                    for i in 0..2000 {
                        if (i + t) % 50 == 0 {
                            let _p = gate.exclusive().unwrap();
                            assert_eq!(inside.fetch_add(1000, Ordering::SeqCst), 0);
                            inside.fetch_sub(1000, Ordering::SeqCst);
                        } else {
                            let _p = gate.shared().unwrap();
                            assert!(inside.fetch_add(1, Ordering::SeqCst) < 1000);
                            inside.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }

    #[test]
    fn a_busy_holder_turns_waiters_away() {
        let gate = Gate::new(2);
        let p = gate.exclusive().unwrap();
        gate.set_busy(true);
        assert!(gate.shared().is_none());
        gate.set_busy(false);
        drop(p);
        assert!(gate.shared().is_some());
    }
}
