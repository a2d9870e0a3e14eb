#include "bench/vowpal_wabbit_learn.h"

#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench/learn_speed_data.h"
#include "core/model/example_batch.h"
#include "core/model/feature_hash.h"
#include "vw/config/options_cli.h"
#include "vw/core/example.h"
#include "vw/core/global_data.h"
#include "vw/core/parse_primitives.h"
#include "vw/core/vw.h"

namespace streamfit {
namespace {

// Example i of `data` in Vowpal Wabbit's text format: the label as -1 or 1,
// then each namespace's features, each named by its streamfit hash (VW
// takes a numeric name as the index, adds the namespace's hash and masks
// it to -b bits, as streamfit takes a hash to its slot).
std::string TextLine(const ExampleBatch& data, size_t i) {
  const ExampleView x = data.view(i);
  std::string line = data.labels[i] == 1 ? "1" : "-1";
  for (const char* ns : {"a", "b"}) {
    line += std::string(" |") + ns;
    const uint32_t ns_hash = HashNamespace(ns);
    for (size_t f = 0; f < x.hashes.size(); ++f) {
      if (x.namespaces[f] != ns_hash) continue;
      line +=
          " " + std::to_string(x.hashes[f]) + ":" + std::to_string(x.values[f]);
    }
  }
  return line;
}

// Vowpal Wabbit's learn() on the shape's examples, logistic loss and a table
// of 2^18 weights as streamfit's hashed benchmarks, with `settings` on top
// (VW's defaults, or the rule it is compared with). The examples are parsed
// and set up once; each iteration learns the next, as BM_Learn does, after
// one warm-up pass over them.
void BM_VowpalWabbit(benchmark::State& state, Shape shape,
                     const std::string& settings) {
  std::unique_ptr<VW::workspace> vw =
      VW::initialize(std::make_unique<VW::config::options_cli>(
          VW::split_command_line("--quiet --bit_precision 18 "
                                 "--loss_function logistic " +
                                 settings)));
  const ExampleBatch data = MakeData(shape);
  std::vector<VW::example*> examples;
  for (size_t i = 0; i < data.size(); ++i) {
    examples.push_back(VW::read_example(*vw, TextLine(data, i)));
  }
  for (VW::example* example : examples) vw->learn(*example);
  size_t i = 0;
  for (auto _ : state) {
    vw->learn(*examples[i]);
    if (++i == examples.size()) i = 0;
  }
  benchmark::DoNotOptimize(examples[0]->partial_prediction);
  for (VW::example* example : examples) vw->finish_example(*example);
}

}  // namespace

void RegisterVowpalWabbit() {
  const std::pair<const char*, Shape> shapes[] = {
      {"sparse30_b18", Shape::kSparse30},
      {"sparse30_b18_zipf", Shape::kSparse30Zipf}};
  // VW's default update (adaptive, normalized and invariant), the one
  // streamfit's `normalized` rule is (adaptive and normalized), and FTRL
  // with streamfit's default alpha and beta for hashed binary models.
  const std::pair<const char*, const char*> settings[] = {
      {"default", ""},
      {"adaptive_normalized", "--adaptive --normalized"},
      {"ftrl", "--ftrl --ftrl_alpha 0.2 --ftrl_beta 1"}};
  for (const auto& [shape_name, shape] : shapes) {
    for (const auto& [name, flags] : settings) {
      benchmark::RegisterBenchmark(
          (std::string("VW/") + shape_name + "/" + name).c_str(),
          BM_VowpalWabbit, shape, std::string(flags));
    }
  }
}

}  // namespace streamfit
