// The hashed weight table of a model: 2^bits slots of a fixed number of
// doubles each, stored in blocks shared copy-on-write between copies, so
// publishing a model copies a few pointers rather than the whole table.
#ifndef STREAMFIT_CORE_MODEL_SPARSE_TABLE_H_
#define STREAMFIT_CORE_MODEL_SPARSE_TABLE_H_

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

namespace streamfit {

// Copies a slot's n values: for one output ({w, a, b}, and with averaging
// c) a few moves, where std::copy_n became a library memmove call per slot.
inline void CopySlotValues(const double* from, double* to, size_t n) {
  if (n == 3) {
    to[0] = from[0];
    to[1] = from[1];
    to[2] = from[2];
  } else if (n == 4) {
    to[0] = from[0];
    to[1] = from[1];
    to[2] = from[2];
    to[3] = from[3];
  } else {
    std::copy_n(from, n, to);
  }
}

// A value type. Copies share blocks; a block is allocated (zeroed) on the
// first write to it at all. The first write to a block shared with a copy
// (a published state) switches this table to another buffer of that block:
// the buffer it used before the previous switch, brought up to date by
// copying only the slots written since, if no copy reads that buffer any
// more; otherwise a full copy of the block. So a learner that publishes
// every few hundred samples pays per slot it wrote, not per block it touched
// (scattered sparse writes touch every block between two publishes).
// Untouched slots read as zeros. A table counts the copies made from it, so
// a write to a block it already held alone, with no copy made since, skips
// the sharing check.
// Thread-safety: const methods may run concurrently with each other, and
// with writes through a *different* copy (the buffers a copy reads are never
// written while it holds them). A single copy is not safe to write
// concurrently.
class SparseTable {
 public:
  SparseTable() = default;
  SparseTable(uint32_t bits, uint32_t values_per_slot);
  // A copy shares the blocks (not the writer's spare buffers).
  SparseTable(const SparseTable& other);
  SparseTable& operator=(const SparseTable& other);
  SparseTable(SparseTable&& other) noexcept;
  SparseTable& operator=(SparseTable&& other) noexcept;

  size_t slots() const { return size_t{1} << bits_; }
  uint32_t values_per_slot() const { return per_slot_; }
  // Slots come in blocks of 2^block_bits(), slot s in block s >> block_bits().
  uint32_t block_bits() const { return block_bits_; }
  size_t blocks() const { return blocks_.size(); }
  // True while no slot was ever written (every slot reads as zeros).
  bool empty() const {
    return std::all_of(data_.begin(), data_.end(),
                       [](const double* b) { return b == nullptr; });
  }

  // The slot's values, or nullptr if its block was never written (zeros).
  const double* Find(uint32_t slot) const {
    const double* b = data_[slot >> block_bits_];
    return b == nullptr ? nullptr : b + Offset(slot);
  }
  // The slot's values, writable: its block is owned by this copy alone.
  double* Mutable(uint32_t slot) {
    const uint32_t i = slot >> block_bits_;
    if (i < owned_since_.size() &&
        owned_since_[i] == copies_.load(std::memory_order_relaxed)) {
      writes_[i]->Mark(slot & BlockMask());
      return data_[i] + Offset(slot);
    }
    return MutableSlow(slot);
  }
  // The values of the whole block holding `slot` (its 2^block_bits() slots
  // from the first, each values_per_slot() long), writable: owned by this
  // copy alone, every slot in it counted as written.
  double* MutableBlock(uint32_t slot);
  // A hint that the slot's values will be read or written soon: starts
  // loading them into the cache. Changes nothing.
  void Prefetch(uint32_t slot) const {
    const double* b = data_[slot >> block_bits_];
    if (b == nullptr) return;
    const double* v = b + Offset(slot);
    __builtin_prefetch(v, 1);
    __builtin_prefetch(v + per_slot_ - 1, 1);
  }

 private:
  // Allocates on cache-line boundaries, so that a slot of 32 bytes (one
  // output's weights and averaging accumulator) never spans two lines.
  template <class T>
  struct CacheLineAllocator {
    using value_type = T;
    static constexpr std::align_val_t kAlignment{64};
    CacheLineAllocator() = default;
    template <class U>
    explicit CacheLineAllocator(const CacheLineAllocator<U>& /*other*/) {}
    T* allocate(size_t n) {
      return static_cast<T*>(::operator new(n * sizeof(T), kAlignment));
    }
    void deallocate(T* p, size_t /*n*/) { ::operator delete(p, kAlignment); }
    bool operator==(const CacheLineAllocator& /*other*/) const { return true; }
  };
  using Block = std::vector<double, CacheLineAllocator<double>>;
  // The writer's record of one block: its buffer before the last switch
  // (copies may still read it) and a bit per slot written since, the only
  // slots where that buffer differs from the current one.
  struct BlockWrites {
    std::shared_ptr<Block> previous;
    std::array<uint64_t, 64> written{};  // 4096 bits: kBlockBits is 12
    void Mark(uint32_t s) { written[s >> 6] |= uint64_t{1} << (s & 63); }
  };

  // Mutable for a block that is unallocated, shared, or not yet tracked.
  double* MutableSlow(uint32_t slot);
  uint32_t BlockMask() const { return (uint32_t{1} << block_bits_) - 1; }
  size_t Offset(uint32_t slot) const {
    return static_cast<size_t>(slot & BlockMask()) * per_slot_;
  }

  uint32_t bits_ = 0, block_bits_ = 0, per_slot_ = 0;
  std::vector<std::shared_ptr<Block>> blocks_{1};
  // blocks_[i]->data() (nullptr while unallocated), so a lookup is one load.
  std::vector<double*> data_{1, nullptr};
  // Per block, once this copy writes to it; empty in a fresh copy.
  std::vector<std::unique_ptr<BlockWrites>> writes_;
  // The number of copies made from this table so far. A block this table
  // held alone when copies_ was c is still held alone while copies_ is c:
  // only a copy of this table can share it. Atomic because copies of one
  // table may be made concurrently (const).
  mutable std::atomic<uint64_t> copies_{0};
  // Per block, copies_ when MutableSlow last made the block this table's
  // alone (kNever: not since); sized with writes_.
  static constexpr uint64_t kNever = ~uint64_t{0};
  std::vector<uint64_t> owned_since_;
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_SPARSE_TABLE_H_
