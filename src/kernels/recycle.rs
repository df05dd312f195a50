//! Large buffers kept for reuse between training steps.
//!
//! Contract: [`Recycled::with_capacity`] hands out a buffer with room for at least `len` floats
//! (empty, its spare capacity of unspecified contents); dropping a [`Recycled`] returns its memory
//! to a small process-wide pool instead of the allocator. The pool holds at most [`KEEP`]
//! buffers and [`KEEP_FLOATS`] floats; beyond that the smallest go back to the allocator.
//!
//! Why: the block op's saved activations are 7-14 MB per step for the seed model. Freed, the
//! allocator hands such blocks back to the kernel, and writing them again next step faulted in
//! fresh zero-filled (huge) pages: 4.5 % of a training step in `clear_page_erms` (`perf`), on top
//! of the faults themselves.

use std::ops::Deref;
use std::sync::Mutex;

/// Buffers kept at most (the seed model keeps two per step: one per block), and floats in all.
const KEEP: usize = 6;
const KEEP_FLOATS: usize = 64 << 20; // 256 MB

static POOL: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

/// A `Vec<f32>` whose memory returns to the pool when dropped.
#[derive(Debug, Default)]
pub(super) struct Recycled(Vec<f32>);

impl Recycled {
    /// An empty buffer with capacity for at least `len` floats: the smallest pooled one that is
    /// large enough, or a new one.
    pub(super) fn with_capacity(len: usize) -> Self {
        let reused = POOL.lock().ok().and_then(|mut pool| {
            let best = (pool.iter().enumerate())
                .filter(|(_, v)| v.capacity() >= len)
                .min_by_key(|(_, v)| v.capacity())
                .map(|(i, _)| i)?;
            Some(pool.swap_remove(best))
        });
        Self(reused.unwrap_or_else(|| Vec::with_capacity(len)))
    }

    /// The vector itself, to fill (`spare_capacity_mut`, `set_len`).
    pub(super) fn vec_mut(&mut self) -> &mut Vec<f32> {
        &mut self.0
    }
}

impl Deref for Recycled {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        &self.0
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        let mut v = std::mem::take(&mut self.0);
        if v.capacity() == 0 || v.capacity() > KEEP_FLOATS {
            return;
        }
        v.clear();
        // A poisoned pool (a panic while it was locked) just stops recycling.
        if let Ok(mut pool) = POOL.lock() {
            pool.push(v);
            while pool.len() > KEEP || pool.iter().map(Vec::capacity).sum::<usize>() > KEEP_FLOATS {
                let smallest = (pool.iter().enumerate())
                    .min_by_key(|(_, v)| v.capacity())
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                pool.swap_remove(smallest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returned_buffers_are_reused_and_the_pool_stays_small() {
        // Sizes no other test uses, so tests running in parallel do not take these buffers.
        let len = 1_234_567;
        let mut a = Recycled::with_capacity(len);
        a.vec_mut().extend((0..len).map(|i| i as f32));
        let ptr = a.as_ptr();
        drop(a);
        let b = Recycled::with_capacity(len - 10);
        assert_eq!(b.as_ptr(), ptr, "the returned buffer is handed out again");
        assert!(b.is_empty(), "a reused buffer starts empty");
        let many: Vec<Recycled> = (0..KEEP + 3).map(|i| Recycled::with_capacity(len + 1000 + i)).collect();
        drop(many);
        let pool = POOL.lock().unwrap();
        assert!(pool.len() <= KEEP && pool.iter().map(Vec::capacity).sum::<usize>() <= KEEP_FLOATS);
    }
}
