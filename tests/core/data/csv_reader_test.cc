#include "core/data/csv_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::IsOk;
using ::streamfit::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CsvReaderTest, ParsesLabelThenFeatures) {
  absl::StatusOr<ExampleBatch> batch = ParseCsv("1,2.5,-3\n0,4,5e2\n");
  ASSERT_THAT(batch, IsOk());
  EXPECT_EQ(batch->num_features, 2u);
  ASSERT_EQ(batch->size(), 2u);
  EXPECT_THAT(batch->labels, ElementsAre(1, 0));
  EXPECT_THAT(batch->values, ElementsAre(2.5, -3, 4, 500));
  EXPECT_THAT(batch->weights, ElementsAre(1, 1));
}

TEST(CsvReaderTest, ParsesWithoutTrailingNewlineAndWithSpacesAndCrlf) {
  absl::StatusOr<ExampleBatch> batch = ParseCsv("7, 1 ,2\r\n8,3, 4");
  ASSERT_THAT(batch, IsOk());
  EXPECT_THAT(batch->labels, ElementsAre(7, 8));
  EXPECT_THAT(batch->values, ElementsAre(1, 2, 3, 4));
}

TEST(CsvReaderTest, SkipsBlankLines) {
  absl::StatusOr<ExampleBatch> batch = ParseCsv("\n1,2\n\n   \n3,4\n\n");
  ASSERT_THAT(batch, IsOk());
  EXPECT_THAT(batch->labels, ElementsAre(1, 3));
  EXPECT_THAT(batch->values, ElementsAre(2, 4));
}

TEST(CsvReaderTest, EmptyTextGivesEmptyBatch) {
  absl::StatusOr<ExampleBatch> batch = ParseCsv("");
  ASSERT_THAT(batch, IsOk());
  EXPECT_EQ(batch->size(), 0u);
}

TEST(CsvReaderTest, RejectsNonNumberNamingLineAndColumn) {
  // Line numbers count blank lines too.
  EXPECT_THAT(ParseCsv("1,2,3\n\n4,abc,6\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("line 3"), HasSubstr("column 2"),
                             HasSubstr("abc"))));
}

TEST(CsvReaderTest, RejectsEmptyCell) {
  EXPECT_THAT(ParseCsv("1,2,3\n4,5,\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("line 2"), HasSubstr("column 3"))));
}

TEST(CsvReaderTest, RejectsNonFiniteValues) {
  EXPECT_THAT(ParseCsv("1,nan\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("line 1"), HasSubstr("column 2"))));
  EXPECT_THAT(ParseCsv("1,2\ninf,3\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("line 2"), HasSubstr("column 1"))));
  // Finite as a double, but not as a float feature.
  EXPECT_THAT(ParseCsv("1,1e300\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("line 1"), HasSubstr("column 2"))));
}

TEST(CsvReaderTest, RejectsInconsistentColumnCounts) {
  EXPECT_THAT(ParseCsv("1,2,3\n4,5,6\n7,8\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("line 3"), HasSubstr("1 features"),
                             HasSubstr("2"))));
  EXPECT_THAT(
      ParseCsv("1,2\n3,4,5\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 2")));
}

TEST(CsvReaderTest, RejectsRowWithOnlyALabel) {
  EXPECT_THAT(ParseCsv("1,2\n3\n"), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("line 2")));
}

TEST(CsvReaderTest, ReadCsvFileReturnsNotFoundForMissingFile) {
  EXPECT_THAT(
      ReadCsvFile(std::string(STREAMFIT_SOURCE_DIR) +
                  "/tests/data/no_such_file.csv"),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("no_such_file.csv")));
}

TEST(CsvReaderTest, ReadCsvFileReadsDiabetesDataset) {
  absl::StatusOr<ExampleBatch> batch = ReadCsvFile(
      std::string(STREAMFIT_SOURCE_DIR) + "/tests/data/diabetes.reg.csv");
  ASSERT_THAT(batch, IsOk());
  EXPECT_EQ(batch->size(), 442u);
  EXPECT_EQ(batch->num_features, 10u);
  EXPECT_EQ(batch->values.size(), 442u * 10);
  EXPECT_EQ(batch->labels[0], 151);
  EXPECT_FLOAT_EQ(batch->values[0], 0.0162806757f);
  EXPECT_EQ(batch->labels[1], 37);
}

TEST(CsvReaderTest, ReadCsvFileReadsClassificationDatasets) {
  absl::StatusOr<ExampleBatch> binary = ReadCsvFile(
      std::string(STREAMFIT_SOURCE_DIR) + "/tests/data/breast_cancer.bin.csv");
  ASSERT_THAT(binary, IsOk());
  EXPECT_EQ(binary->size(), 569u);
  EXPECT_EQ(binary->num_features, 30u);
  absl::StatusOr<ExampleBatch> digits = ReadCsvFile(
      std::string(STREAMFIT_SOURCE_DIR) + "/tests/data/digits.multi10.csv");
  ASSERT_THAT(digits, IsOk());
  EXPECT_EQ(digits->size(), 1797u);
  EXPECT_EQ(digits->num_features, 64u);
}

TEST(CsvReaderTest, RefusesMoreColumnsThanTheFeatureLimit) {
  std::string line = "1";
  for (uint32_t j = 0; j <= kMaxFeatures; ++j) line += ",0";
  EXPECT_THAT(ParseCsv(line),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 1: over 1048576 features")));
}

}  // namespace
}  // namespace streamfit
