// The hashed weight table of a model: 2^bits slots of a fixed number of
// doubles each, stored in blocks shared copy-on-write between copies, so
// publishing a model copies a few pointers rather than the whole table.
#ifndef STREAMFIT_CORE_SPARSE_TABLE_H_
#define STREAMFIT_CORE_SPARSE_TABLE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace streamfit {

// A value type. Copies share blocks; a block is copied by the first write
// through a copy that does not hold it alone, and allocated (zeroed) on the
// first write to it at all. Untouched slots read as zeros.
// Thread-safety: const methods may run concurrently with each other, and
// with writes through a *different* copy (the blocks a copy reads are never
// written while shared). A single copy is not safe to write concurrently.
class SparseTable {
 public:
  SparseTable() = default;
  SparseTable(uint32_t bits, uint32_t values_per_slot);

  size_t slots() const { return size_t{1} << bits_; }
  uint32_t values_per_slot() const { return per_slot_; }

  // The slot's values, or nullptr if its block was never written (zeros).
  const double* Find(uint32_t slot) const {
    const double* b = data_[slot >> block_bits_];
    return b == nullptr ? nullptr : b + Offset(slot);
  }
  // The slot's values, writable: its block is owned by this copy alone.
  double* Mutable(uint32_t slot) {
    const uint32_t i = slot >> block_bits_;
    if (data_[i] != nullptr && blocks_[i].use_count() == 1) {
      // Held alone: order the writes after the reads of copies that
      // released the block.
      std::atomic_thread_fence(std::memory_order_acquire);
      return data_[i] + Offset(slot);
    }
    return MutableSlow(slot);
  }
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
  using Block = std::vector<double>;
  // Mutable for a block that is unallocated or shared.
  double* MutableSlow(uint32_t slot);
  size_t Offset(uint32_t slot) const {
    return static_cast<size_t>(slot & ((uint32_t{1} << block_bits_) - 1)) *
           per_slot_;
  }

  uint32_t bits_ = 0, block_bits_ = 0, per_slot_ = 0;
  std::vector<std::shared_ptr<Block>> blocks_{1};
  // blocks_[i]->data() (nullptr while unallocated), so a lookup is one load.
  std::vector<double*> data_{1, nullptr};
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_SPARSE_TABLE_H_
