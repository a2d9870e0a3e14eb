// RFC 4180 records and numeric rows for the CLI's streaming input.
#include "client/csv_records.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "tests/testing/status_matchers.h"

namespace streamfit::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Fields = std::vector<std::string>;

std::vector<Fields> AllRecords(const std::string& text, char delimiter = ',') {
  std::istringstream in(text);
  CsvRecordReader reader(in, delimiter);
  std::vector<Fields> out;
  for (;;) {
    absl::StatusOr<std::optional<Fields>> record = reader.Next();
    EXPECT_THAT(record, IsOk());
    if (!record.ok() || !record->has_value()) return out;
    out.push_back(**record);
  }
}

TEST(CsvRecordReaderTest, SplitsQuotedFieldsWithDelimitersQuotesAndNewlines) {
  EXPECT_THAT(AllRecords("a,\"b,c\",\"say \"\"hi\"\"\"\r\n\"two\nlines\",,x\n"),
              ElementsAre(Fields{"a", "b,c", "say \"hi\""},
                          Fields{"two\nlines", "", "x"}));
}

TEST(CsvRecordReaderTest, SkipsEmptyLinesAndReadsALastLineWithoutNewline) {
  EXPECT_THAT(AllRecords("\n1;2\n\r\n\n3;4", ';'),
              ElementsAre(Fields{"1", "2"}, Fields{"3", "4"}));
}

TEST(CsvRecordReaderTest, CountsLinesAcrossQuotedLineBreaks) {
  std::istringstream in("\"a\nb\",1\n2,3\n");
  CsvRecordReader reader(in, ',');
  ASSERT_THAT(reader.Next(), IsOk());
  EXPECT_EQ(reader.line(), 1u);
  ASSERT_THAT(reader.Next(), IsOk());
  EXPECT_EQ(reader.line(), 3u);
}

TEST(CsvRecordReaderTest, RefusesUnclosedQuotesAndTextAfterAClosingQuote) {
  std::istringstream unclosed("1,2\n3,\"4\n");
  CsvRecordReader a(unclosed, ',');
  ASSERT_THAT(a.Next(), IsOk());
  EXPECT_THAT(a.Next(), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("line 2: a quoted field is not "
                                           "closed")));
  std::istringstream stray("\"4\"x,1\n");
  CsvRecordReader b(stray, ',');
  EXPECT_THAT(b.Next(), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("'x' after a closing quote")));
}

TEST(CsvRowReaderTest, ReadsLabelledRowsInBatchesByHeaderName) {
  std::istringstream in("f1,y,f2\n1,10,2\n3,30,4\n5,50,6\n");
  CsvRowOptions options;
  options.header = true;
  options.label_column = "y";
  absl::StatusOr<CsvRowReader> reader = CsvRowReader::Create(in, options);
  ASSERT_THAT(reader, IsOk());
  absl::StatusOr<CsvRows> first = reader->NextRows(2);
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->width, 2u);
  EXPECT_EQ(first->first_line, 2u);
  EXPECT_THAT(first->values, ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(first->labels, ElementsAre(10, 30));
  absl::StatusOr<CsvRows> second = reader->NextRows(2);
  ASSERT_THAT(second, IsOk());
  EXPECT_THAT(second->labels, ElementsAre(50));
  EXPECT_EQ(second->first_line, 4u);
  EXPECT_EQ(reader->NextRows(2)->size(), 0u);
}

TEST(CsvRowReaderTest, UnlabeledRowsAreAllFeatures) {
  std::istringstream in("1,2,3\n");
  CsvRowOptions options;
  options.labeled = false;
  absl::StatusOr<CsvRowReader> reader = CsvRowReader::Create(in, options);
  ASSERT_THAT(reader, IsOk());
  absl::StatusOr<CsvRows> rows = reader->NextRows(10);
  ASSERT_THAT(rows, IsOk());
  EXPECT_EQ(rows->width, 3u);
  EXPECT_EQ(rows->size(), 1u);
}

TEST(CsvRowReaderTest, RefusesBadNumbersWidthChangesAndUnknownLabels) {
  std::istringstream bad("1,2\n3,x\n");
  absl::StatusOr<CsvRowReader> a = CsvRowReader::Create(bad, {});
  ASSERT_THAT(a, IsOk());
  EXPECT_THAT(a->NextRows(10),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 2, column 2: 'x' is not a finite")));
  std::istringstream huge("1,1e300\n");  // finite double, not a float
  absl::StatusOr<CsvRowReader> h = CsvRowReader::Create(huge, {});
  EXPECT_THAT(h->NextRows(10), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("column 2")));
  std::istringstream ragged("1,2,3\n4,5\n");
  absl::StatusOr<CsvRowReader> b = CsvRowReader::Create(ragged, {});
  EXPECT_THAT(b->NextRows(10),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 2: 1 features, earlier rows 2")));
  std::istringstream header("a,b\n1,2\n");
  CsvRowOptions options;
  options.header = true;
  options.label_column = "label";
  EXPECT_THAT(CsvRowReader::Create(header, options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no column 'label'")));
}

}  // namespace
}  // namespace streamfit::testing
