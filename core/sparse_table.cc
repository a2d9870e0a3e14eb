#include "core/sparse_table.h"

#include <algorithm>

namespace streamfit {
namespace {

// 2^12 slots per block: 96 KiB for one output with three values per slot.
constexpr uint32_t kBlockBits = 12;

}  // namespace

SparseTable::SparseTable(uint32_t bits, uint32_t values_per_slot)
    : bits_(bits),
      block_bits_(std::min(bits, kBlockBits)),
      per_slot_(values_per_slot),
      blocks_(size_t{1} << (bits - std::min(bits, kBlockBits))),
      data_(blocks_.size(), nullptr) {}

double* SparseTable::MutableSlow(uint32_t slot) {
  const uint32_t i = slot >> block_bits_;
  std::shared_ptr<Block>& b = blocks_[i];
  if (b == nullptr) {
    b = std::make_shared<Block>((size_t{1} << block_bits_) * per_slot_, 0.0);
    data_[i] = b->data();
  } else if (b.use_count() != 1) {
    // Shared with a published copy: write to a private copy.
    b = std::make_shared<Block>(*b);
    data_[i] = b->data();
  } else {
    // Held alone: order the writes after the reads of copies that released
    // the block.
    std::atomic_thread_fence(std::memory_order_acquire);
  }
  return b->data() + Offset(slot);
}

}  // namespace streamfit
