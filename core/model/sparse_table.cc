#include "core/model/sparse_table.h"

#include <algorithm>
#include <bit>
#include <utility>

namespace streamfit {
namespace {

// 2^12 slots per block: 96 KiB for one output with three values per slot
// (and BlockWrites::written has a bit for each).
constexpr uint32_t kBlockBits = 12;

// Whether `block` is referenced by `owner` alone. The probe's copy and
// release are read-modify-writes of the count (acq_rel), so every release of
// the block by another copy happens before what the caller does next; unlike
// a relaxed use_count() and a fence, ThreadSanitizer sees that edge too.
template <typename T>
bool HeldAlone(const std::shared_ptr<T>& owner) {
  const std::shared_ptr<T> probe = owner;
  return probe.use_count() == 2;
}

}  // namespace

SparseTable::SparseTable(uint32_t bits, uint32_t values_per_slot)
    : bits_(bits),
      block_bits_(std::min(bits, kBlockBits)),
      per_slot_(values_per_slot),
      blocks_(size_t{1} << (bits - std::min(bits, kBlockBits))),
      data_(blocks_.size(), nullptr) {}

SparseTable::SparseTable(const SparseTable& other)
    : bits_(other.bits_),
      block_bits_(other.block_bits_),
      per_slot_(other.per_slot_),
      blocks_(other.blocks_),
      data_(other.data_) {
  other.copies_.fetch_add(1, std::memory_order_relaxed);
}

SparseTable& SparseTable::operator=(const SparseTable& other) {
  if (this != &other) {
    bits_ = other.bits_;
    block_bits_ = other.block_bits_;
    per_slot_ = other.per_slot_;
    blocks_ = other.blocks_;
    data_ = other.data_;
    writes_.clear();
    owned_since_.clear();
    other.copies_.fetch_add(1, std::memory_order_relaxed);
  }
  return *this;
}

SparseTable::SparseTable(SparseTable&& other) noexcept
    : bits_(other.bits_),
      block_bits_(other.block_bits_),
      per_slot_(other.per_slot_),
      blocks_(std::move(other.blocks_)),
      data_(std::move(other.data_)),
      writes_(std::move(other.writes_)),
      copies_(other.copies_.load(std::memory_order_relaxed)),
      owned_since_(std::move(other.owned_since_)) {}

SparseTable& SparseTable::operator=(SparseTable&& other) noexcept {
  if (this != &other) {
    bits_ = other.bits_;
    block_bits_ = other.block_bits_;
    per_slot_ = other.per_slot_;
    blocks_ = std::move(other.blocks_);
    data_ = std::move(other.data_);
    writes_ = std::move(other.writes_);
    owned_since_ = std::move(other.owned_since_);
    copies_.store(other.copies_.load(std::memory_order_relaxed),
                  std::memory_order_relaxed);
    other.owned_since_.clear();
    other.writes_.clear();
  }
  return *this;
}

double* SparseTable::MutableBlock(uint32_t slot) {
  double* const values = Mutable(slot & ~BlockMask());
  std::array<uint64_t, 64>& written = writes_[slot >> block_bits_]->written;
  const size_t block_slots = size_t{1} << block_bits_;
  if (block_slots >= 64) {
    std::fill_n(written.begin(), block_slots / 64, ~uint64_t{0});
  } else {
    written[0] |= (uint64_t{1} << block_slots) - 1;
  }
  return values;
}

double* SparseTable::MutableSlow(uint32_t slot) {
  static_assert(sizeof(BlockWrites::written) * 8 >= (size_t{1} << kBlockBits));
  const uint32_t i = slot >> block_bits_;
  const size_t block_slots = size_t{1} << block_bits_;
  if (writes_.empty()) {
    writes_.resize(blocks_.size());
    owned_since_.assign(blocks_.size(), kNever);
  }
  std::unique_ptr<BlockWrites>& w = writes_[i];
  if (w == nullptr) w = std::make_unique<BlockWrites>();
  std::shared_ptr<Block>& b = blocks_[i];
  if (b == nullptr) {
    b = std::make_shared<Block>(block_slots * per_slot_, 0.0);
  } else if (b.use_count() != 1) {
    // Shared with a copy: switch to another buffer, equal to this one.
    std::shared_ptr<Block> next;
    if (w->previous != nullptr && HeldAlone(w->previous)) {
      next = std::move(w->previous);
      const double* from = b->data();
      double* to = next->data();
      for (size_t k = 0; k < w->written.size(); ++k) {
        for (uint64_t bits = w->written[k]; bits != 0; bits &= bits - 1) {
          const size_t at = (k * 64 + std::countr_zero(bits)) * per_slot_;
          CopySlotValues(from + at, to + at, per_slot_);
        }
      }
    } else {
      next = std::make_shared<Block>(*b);
    }
    w->written.fill(0);
    w->previous = std::move(b);
    b = std::move(next);
  } else {
    // Held alone: order the writes after the reads of copies that released
    // the block.
    std::atomic_thread_fence(std::memory_order_acquire);
  }
  data_[i] = b->data();
  owned_since_[i] = copies_.load(std::memory_order_relaxed);
  w->Mark(slot & BlockMask());
  return data_[i] + Offset(slot);
}

}  // namespace streamfit
