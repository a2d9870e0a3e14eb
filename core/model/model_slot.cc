#include "core/model/model_slot.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace streamfit {
namespace {

uint64_t WindowBlocks(uint64_t window) {
  return (window + ModelSlot::kBlock - 1) / ModelSlot::kBlock;
}

// Whether `a` and `b` hold the same state, bit for bit.
bool SameState(const LinearModel& a, const LinearModel& b) {
  if (a.version() != b.version() || a.loss_sum() != b.loss_sum()) {
    return false;
  }
  const std::vector<NamedTensor> x = a.ExportState();
  const std::vector<NamedTensor> y = b.ExportState();
  return std::equal(x.begin(), x.end(), y.begin(), y.end(),
                    [](const NamedTensor& p, const NamedTensor& q) {
                      return p.name == q.name && p.shape == q.shape &&
                             p.values == q.values;
                    });
}

}  // namespace

bool MayRefuse(const ModelConfig& config, const ModelConfig& base) {
  return config.interactions != base.interactions ||
         (config.optimizer == Optimizer::kRls &&
          base.optimizer != Optimizer::kRls) ||
         (config.loss == LossKind::kPoisson && base.loss != LossKind::kPoisson);
}

ChallengerComparison Compare(const ChallengerRecord& record,
                             const LinearModel& champion,
                             const LinearModel& challenger, uint64_t window) {
  ChallengerComparison out;
  if (champion.version() > record.comparison_start) {
    out.compared_samples = champion.version() - record.comparison_start;
    const double n = static_cast<double>(out.compared_samples);
    out.champion_loss =
        (champion.loss_sum() - record.champion_loss_at_start) / n;
    out.challenger_loss =
        (challenger.loss_sum() - record.challenger_loss_at_start) / n;
  }
  const std::vector<double>& blocks = record.block_differences;
  const size_t n = std::min<size_t>(WindowBlocks(window), blocks.size());
  out.window_samples = n * ModelSlot::kBlock;
  if (n == 0) return out;
  double sum = 0;
  for (size_t i = blocks.size() - n; i < blocks.size(); ++i) sum += blocks[i];
  const double mean = sum / static_cast<double>(n);
  out.loss_difference = mean;
  if (n < 2) return out;
  double squares = 0;
  for (size_t i = blocks.size() - n; i < blocks.size(); ++i) {
    squares += (blocks[i] - mean) * (blocks[i] - mean);
  }
  const double sd = std::sqrt(squares / static_cast<double>(n - 1));
  if (sd == 0) {
    out.confidence = mean > 0 ? 1 : mean < 0 ? 0 : 0.5;
  } else {
    const double t = mean / (sd / std::sqrt(static_cast<double>(n)));
    out.confidence = 0.5 * std::erfc(-t / std::sqrt(2.0));
  }
  return out;
}

ModelSlot::ModelSlot(LinearModel champion) : champion_(std::move(champion)) {}

ModelSlot::ModelSlot(SlotState state) : champion_(std::move(state.champion)) {
  for (ChallengerState& c : state.challengers) {
    const bool validates = MayRefuse(c.model.config(), config());
    challengers_.push_back(Challenger{ModelTrainer(std::move(c.model)),
                                      std::move(c.record), validates});
  }
}

void ModelSlot::RestartComparison(Challenger& c) const {
  ChallengerRecord& s = c.record;
  s.comparison_start = (version() + kBlock - 1) / kBlock * kBlock;
  s.block_differences.clear();
  s.champion_loss_at_start = s.champion_loss_at_block = model().loss_sum();
  s.challenger_loss_at_start = s.challenger_loss_at_block =
      c.trainer.model().loss_sum();
}

void ModelSlot::LearnBatch(const ExampleBatch& batch, size_t begin, size_t end,
                           std::vector<Promotion>* promotions) {
  while (begin < end) {
    if (challengers_.empty()) {
      champion_.LearnBatch(batch, begin, end);
      return;
    }
    const size_t run =
        std::min<uint64_t>(end - begin, kBlock - champion_.version() % kBlock);
    champion_.LearnBatch(batch, begin, begin + run);
    LearnChallengers(batch, begin, begin + run);
    begin += run;
    if (champion_.version() % kBlock == 0) EndBlock(promotions);
  }
}

void ModelSlot::LearnChallengers(const ExampleBatch& batch, size_t begin,
                                 size_t end) {
  for (size_t i = 0; i < challengers_.size();) {
    Challenger& c = challengers_[i];
    if (c.validates && c.validated_batch != c.trainer.version() - begin) {
      c.validated_batch = c.trainer.version() - begin;
      if (absl::Status valid = ValidateBatch(batch, c.trainer.config());
          !valid.ok()) {
        if (dropped_.size() == kMaxChallengers) {
          dropped_.erase(dropped_.begin());
        }
        dropped_.push_back(
            {c.record.name, c.trainer.version(),
             absl::StrCat("its config refused a sample the champion learned: ",
                          valid.message())});
        challengers_.erase(challengers_.begin() + i);
        ++membership_changes_;
        continue;
      }
    }
    c.trainer.LearnBatch(batch, begin, end);
    ++i;
  }
}

void ModelSlot::EndBlock(std::vector<Promotion>* promotions) {
  const uint64_t v = version();
  const double champion_sum = model().loss_sum();
  for (Challenger& c : challengers_) {
    ChallengerRecord& s = c.record;
    const double challenger_sum = c.trainer.model().loss_sum();
    if (v == s.comparison_start) {
      s.champion_loss_at_start = champion_sum;
      s.challenger_loss_at_start = challenger_sum;
    } else if (v > s.comparison_start) {
      s.block_differences.push_back(
          ((champion_sum - s.champion_loss_at_block) -
           (challenger_sum - s.challenger_loss_at_block)) /
          static_cast<double>(kBlock));
      if (s.block_differences.size() > kMaxBlocks) {
        s.block_differences.erase(s.block_differences.begin());
      }
    }
    s.champion_loss_at_block = champion_sum;
    s.challenger_loss_at_block = challenger_sum;
  }
  const ModelPolicies& policy = config().policies;
  if (!promotes_ || policy.promote_confidence == 0) return;
  // One test per window, at the versions that end one: testing at every
  // block would test mostly the same samples again and again, and promote
  // an equally good challenger far more often than 1 - promote_confidence.
  if ((v / kBlock) % WindowBlocks(policy.promote_window) != 0) return;
  size_t best = challengers_.size();
  ChallengerComparison best_comparison;
  for (size_t i = 0; i < challengers_.size(); ++i) {
    const Challenger& c = challengers_[i];
    if (c.record.block_differences.size() <
        WindowBlocks(policy.promote_window)) {
      continue;
    }
    const ChallengerComparison compared =
        Compare(c.record, model(), c.trainer.model(), policy.promote_window);
    if (compared.confidence >= policy.promote_confidence &&
        (best == challengers_.size() ||
         compared.confidence > best_comparison.confidence)) {
      best = i;
      best_comparison = compared;
    }
  }
  if (best == challengers_.size()) return;
  Promotion promotion = PromoteAt(best, /*automatic=*/true, best_comparison);
  if (promotions != nullptr) promotions->push_back(std::move(promotion));
}

void ModelSlot::ReplaceChampion(ModelTrainer next) {
  champion_ = std::move(next);
  for (Challenger& c : challengers_) {
    c.validates = MayRefuse(c.trainer.config(), config());
    RestartComparison(c);
  }
}

absl::Status ModelSlot::AddChallenger(std::string name,
                                      const ModelConfig& config) {
  if (name.empty()) {
    return absl::InvalidArgumentError("a challenger needs a name");
  }
  ModelConfig own = config;
  own.policies = this->config().policies;
  ASSIGN_OR_RETURN(const ModelConfig full, WithDefaults(own));
  const ModelConfig& champion = this->config();
  if (full.task != champion.task ||
      full.num_features != champion.num_features ||
      full.num_classes != champion.num_classes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a challenger learns the champion's samples: its task, num_features "
        "and num_classes must be the champion's (",
        TaskName(champion.task), ", ", champion.num_features, ", ",
        champion.num_classes, "), got ", TaskName(full.task), ", ",
        full.num_features, ", ", full.num_classes));
  }
  RETURN_IF_ERROR(CheckRoomFor(name));
  ASSIGN_OR_RETURN(LinearModel empty, LinearModel::Create(full));
  ASSIGN_OR_RETURN(
      LinearModel model,
      LinearModel::FromState(full, version(), empty.ExportState()));
  ChallengerRecord record;
  record.name = std::move(name);
  record.start_version = version();
  Challenger c{ModelTrainer(std::move(model)), std::move(record),
               MayRefuse(full, champion)};
  RestartComparison(c);
  challengers_.push_back(std::move(c));
  ++membership_changes_;
  return absl::OkStatus();
}

absl::Status ModelSlot::CheckRoomFor(absl::string_view name) const {
  for (const Challenger& c : challengers_) {
    if (c.record.name == name) {
      return absl::AlreadyExistsError(
          absl::StrCat("challenger '", name, "' already exists"));
    }
  }
  if (challengers_.size() >= kMaxChallengers) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a model has at most ", kMaxChallengers, " challengers"));
  }
  return absl::OkStatus();
}

absl::Status ModelSlot::Holds(absl::string_view name) const {
  for (const Challenger& c : challengers_) {
    if (c.record.name == name) return absl::OkStatus();
  }
  for (const DroppedChallenger& d : dropped_) {
    if (d.name != name) continue;
    return absl::FailedPreconditionError(
        absl::StrCat("challenger '", name,
                     "' cannot learn the model's samples after version ",
                     d.version, ": ", d.reason));
  }
  return absl::NotFoundError(absl::StrCat("no challenger '", name, "'"));
}

absl::Status ModelSlot::TakeChallenger(ModelSlot& other,
                                       absl::string_view name) {
  if (other.version() != version()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the challenger is at version ", other.version(),
                     ", the model at version ", version()));
  }
  RETURN_IF_ERROR(CheckRoomFor(name));
  RETURN_IF_ERROR(other.Holds(name));
  auto it = std::find_if(
      other.challengers_.begin(), other.challengers_.end(),
      [name](const Challenger& c) { return c.record.name == name; });
  Challenger c = std::move(*it);
  other.challengers_.erase(it);
  ++other.membership_changes_;
  c.validates = MayRefuse(c.trainer.config(), config());
  c.validated_batch = UINT64_MAX;
  if (!SameState(other.model(), model())) RestartComparison(c);
  challengers_.push_back(std::move(c));
  ++membership_changes_;
  return absl::OkStatus();
}

absl::Status ModelSlot::RemoveChallenger(absl::string_view name) {
  for (auto it = challengers_.begin(); it != challengers_.end(); ++it) {
    if (it->record.name == name) {
      challengers_.erase(it);
      ++membership_changes_;
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError(absl::StrCat("no challenger '", name, "'"));
}

absl::StatusOr<Promotion> ModelSlot::Promote(absl::string_view name) {
  for (size_t i = 0; i < challengers_.size(); ++i) {
    if (challengers_[i].record.name != name) continue;
    const Challenger& c = challengers_[i];
    return PromoteAt(i, /*automatic=*/false,
                     Compare(c.record, model(), c.trainer.model(),
                             config().policies.promote_window));
  }
  return absl::NotFoundError(absl::StrCat("no challenger '", name, "'"));
}

Promotion ModelSlot::PromoteAt(size_t index, bool automatic,
                               const ChallengerComparison& comparison) {
  Promotion promotion;
  promotion.name = challengers_[index].record.name;
  promotion.version = version();
  promotion.automatic = automatic;
  promotion.comparison = comparison;
  promotion.replaced = model().metrics();
  ModelTrainer next = std::move(challengers_[index].trainer);
  challengers_.erase(challengers_.begin() + index);
  ++membership_changes_;
  ReplaceChampion(std::move(next));
  auto state = std::make_shared<PublishedSlot>();
  state->champion = std::make_shared<const LinearModel>(model());
  state->challengers = ChallengerStates();
  promotion.state = std::move(state);
  return promotion;
}

std::vector<SlotCheck> ModelSlot::ChecksAgainst(const ModelConfig& base) const {
  std::vector<SlotCheck> checks;
  if (MayRefuse(config(), base)) checks.push_back({"", config()});
  for (const Challenger& c : challengers_) {
    if (MayRefuse(c.trainer.config(), base)) {
      checks.push_back({c.record.name, c.trainer.config()});
    }
  }
  return checks;
}

SlotState ModelSlot::TakeState() && {
  SlotState state{std::move(champion_).TakeModel(), {}};
  for (Challenger& c : challengers_) {
    state.challengers.push_back(
        {std::move(c.record), std::move(c.trainer).TakeModel()});
  }
  return state;
}

std::vector<ChallengerState> ModelSlot::ChallengerStates() const {
  std::vector<ChallengerState> out;
  out.reserve(challengers_.size());
  for (const Challenger& c : challengers_) {
    out.push_back({c.record, c.trainer.model()});
  }
  return out;
}

}  // namespace streamfit
