#include "core/data/dataset_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/model/feature_hash.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::IsOk;
using ::streamfit::testing::StatusIs;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

DatasetParseOptions Csv() { return {}; }
DatasetParseOptions Libsvm() {
  DatasetParseOptions o;
  o.format = DatasetFormat::kLibsvm;
  return o;
}

TEST(DatasetReaderTest, CsvLabelFirst) {
  absl::StatusOr<ParsedDataset> d =
      ParseDataset("1,2,3\r\n\n# comment\n4.5, 5 ,6\n", Csv());
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->examples.num_features, 2u);
  EXPECT_THAT(d->examples.labels, ElementsAre(1, 4.5));
  EXPECT_THAT(d->examples.values, ElementsAre(2, 3, 5, 6));
  EXPECT_THAT(d->examples.weights, ElementsAre(1, 1));
}

TEST(DatasetReaderTest, CsvNamedLabelColumn) {
  DatasetParseOptions o = Csv();
  o.has_header = true;
  o.label_column = "y";
  absl::StatusOr<ParsedDataset> d = ParseDataset("a,y,b\n1,10,2\n3,30,4\n", o);
  ASSERT_THAT(d, IsOk());
  EXPECT_THAT(d->examples.labels, ElementsAre(10, 30));
  EXPECT_THAT(d->examples.values, ElementsAre(1, 2, 3, 4));
  o.label_column = "z";
  EXPECT_THAT(ParseDataset("a,y,b\n1,10,2\n", o),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 1: the header has no column 'z'")));
}

TEST(DatasetReaderTest, CsvHeaderWithoutLabelNameUsesFirstColumn) {
  DatasetParseOptions o = Csv();
  o.has_header = true;
  absl::StatusOr<ParsedDataset> d = ParseDataset("y,a\n7,8\n", o);
  ASSERT_THAT(d, IsOk());
  EXPECT_THAT(d->examples.labels, ElementsAre(7));
}

TEST(DatasetReaderTest, CsvErrorsNameLineAndColumn) {
  EXPECT_THAT(ParseDataset("1,2\n3,x\n", Csv()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 2: column 2: not a finite number")));
  EXPECT_THAT(ParseDataset("1,2\n3,4,5\n", Csv()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 2: 3 columns, expected 2")));
  EXPECT_THAT(ParseDataset("1,1e39\n", Csv()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 1: column 2")));
  EXPECT_THAT(
      ParseDataset("\n\n", Csv()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no rows")));
}

TEST(DatasetReaderTest, SkipBadRowsCountsThem) {
  DatasetParseOptions o = Csv();
  o.skip_bad_rows = true;
  absl::StatusOr<ParsedDataset> d = ParseDataset("1,2\nbad\n3,4\n5,nan\n", o);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->examples.size(), 2u);
  EXPECT_EQ(d->skipped_rows, 2u);
  ASSERT_EQ(d->skipped_reasons.size(), 2u);
  EXPECT_THAT(d->skipped_reasons[0], HasSubstr("line 2"));
  EXPECT_THAT(d->skipped_reasons[1], HasSubstr("line 4"));
}

TEST(DatasetReaderTest, LibsvmSparseToDense) {
  absl::StatusOr<ParsedDataset> d =
      ParseDataset("1 1:0.5 3:2 # comment\n0 2:1\n-1\n", Libsvm());
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->examples.num_features, 3u);
  EXPECT_THAT(d->examples.labels, ElementsAre(1, 0, -1));
  EXPECT_THAT(d->examples.values, ElementsAre(0.5, 0, 2, 0, 1, 0, 0, 0, 0));
}

TEST(DatasetReaderTest, LibsvmHashedIndices) {
  DatasetParseOptions o = Libsvm();
  o.hashed_indices = true;
  absl::StatusOr<ParsedDataset> d =
      ParseDataset("1 1:0.5 3:2 # comment\n0 2:1\n-1\n", o);
  ASSERT_THAT(d, IsOk());
  const uint32_t ns = HashNamespace("");
  EXPECT_EQ(d->examples.num_features, 0u);
  EXPECT_THAT(d->examples.values, IsEmpty());
  EXPECT_THAT(d->examples.labels, ElementsAre(1, 0, -1));
  EXPECT_THAT(d->examples.weights, ElementsAre(1, 1, 1));
  EXPECT_THAT(d->examples.sparse_offsets, ElementsAre(0, 2, 3, 3));
  EXPECT_THAT(d->examples.sparse_hashes,
              ElementsAre(HashFeatureIndex(ns, 1), HashFeatureIndex(ns, 3),
                          HashFeatureIndex(ns, 2)));
  EXPECT_THAT(d->examples.sparse_namespaces, Each(ns));
  EXPECT_THAT(d->examples.sparse_values, ElementsAre(0.5, 2, 1));
  // The rows are checked as for dense columns.
  EXPECT_THAT(
      ParseDataset("1 2:1 2:3\n", o),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not above")));
}

TEST(DatasetReaderTest, LibsvmFixedWidthAndErrors) {
  DatasetParseOptions o = Libsvm();
  o.num_features = 4;
  absl::StatusOr<ParsedDataset> d = ParseDataset("1 2:1\n", o);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->examples.num_features, 4u);
  EXPECT_THAT(ParseDataset("1 5:1\n", o),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 1: feature index 5 is over 4")));
  EXPECT_THAT(
      ParseDataset("1 2:1 2:3\n", Libsvm()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not above")));
  EXPECT_THAT(
      ParseDataset("1 0:1\n", Libsvm()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("index >= 1")));
  EXPECT_THAT(
      ParseDataset("1 1:1\nx 1:2\n", Libsvm()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 2: label")));
}

TEST(DatasetReaderTest, FormatNames) {
  EXPECT_THAT(ParseDatasetFormat("libsvm"), IsOk());
  EXPECT_EQ(DatasetFormatName(*ParseDatasetFormat("csv")), "csv");
  EXPECT_THAT(ParseDatasetFormat("xml"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// Fuzz-style: truncations and random mutations never crash, and a result is
// either an error or a rectangular batch.
TEST(DatasetReaderTest, SurvivesTruncatedAndRandomInput) {
  const std::string csv = "y,a,b\n1,2,3\n4,5,6\n7,8,9\n";
  const std::string svm = "1 1:2 3:4\n0 2:1e3\n1 7:0.5\n";
  std::mt19937 rng(42);
  const std::string alphabet = "0123456789.,:-+e \n#xnaN";
  for (int round = 0; round < 2000; ++round) {
    std::string text =
        (round % 2 ? csv : svm).substr(0, rng() % (csv.size() + 1));
    for (int k = rng() % 4; k > 0 && !text.empty(); --k) {
      text[rng() % text.size()] = alphabet[rng() % alphabet.size()];
    }
    for (DatasetParseOptions o : {Csv(), Libsvm()}) {
      o.skip_bad_rows = round % 3 == 0;
      absl::StatusOr<ParsedDataset> d = ParseDataset(text, o);
      if (!d.ok()) continue;
      const ExampleBatch& b = d->examples;
      ASSERT_GT(b.num_features, 0u);
      ASSERT_EQ(b.values.size(), b.size() * b.num_features) << text;
      ASSERT_EQ(b.weights.size(), b.size());
    }
  }
}

// A CSV line: a label, then `features` zeros.
std::string WideCsvLine(size_t features) {
  std::string line = "1";
  line.reserve(2 * features + 2);
  for (size_t j = 0; j < features; ++j) line += ",0";
  return line + "\n";
}

TEST(DatasetReaderTest, CsvRefusesMoreColumnsThanTheFeatureLimit) {
  EXPECT_THAT(ParseDataset(WideCsvLine(kMaxFeatures + 1), Csv()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 1: over 1048576 features")));
  absl::StatusOr<ParsedDataset> at_limit =
      ParseDataset(WideCsvLine(kMaxFeatures), Csv());
  ASSERT_THAT(at_limit, IsOk());
  EXPECT_EQ(at_limit->examples.num_features, kMaxFeatures);
}

TEST(DatasetReaderTest, RefusesValuesBeyondTheInputLimit) {
  EXPECT_THAT(ParseDataset("1e300,2\n", Csv()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 1: column 1")));
  EXPECT_THAT(ParseDataset("1,2e18\n", Csv()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 1: column 2")));
  EXPECT_THAT(
      ParseDataset("1e19 1:2\n", Libsvm()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1: label")));
}

}  // namespace
}  // namespace streamfit
