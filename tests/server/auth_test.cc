#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/auth/credential_table.h"
#include "server/auth/exposure.h"
#include "server/auth/roles.h"
#include "tests/testing/status_matchers.h"

namespace streamfit::auth {
namespace {

using ::streamfit::testing::StatusIs;
using ::testing::HasSubstr;

TEST(RolesTest, EachRoleIncludesThePreviousOnes) {
  EXPECT_TRUE(Includes(Role::kAdmin, Role::kPredictor));
  EXPECT_TRUE(Includes(Role::kOperator, Role::kObserver));
  EXPECT_TRUE(Includes(Role::kObserver, Role::kObserver));
  EXPECT_FALSE(Includes(Role::kObserver, Role::kOperator));
  EXPECT_FALSE(Includes(Role::kPredictor, Role::kObserver));
}

TEST(RolesTest, OpenServicesNeedNoRoleAndUnknownMethodsNeedAdmin) {
  EXPECT_EQ(RequiredRole("/grpc.health.v1.Health/Check"), std::nullopt);
  EXPECT_EQ(
      RequiredRole(
          "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"),
      std::nullopt);
  EXPECT_EQ(RequiredRole("/streamfit.v1.Learner/Predict"), Role::kPredictor);
  EXPECT_EQ(RequiredRole("/streamfit.v1.Learner/ObserveStream"),
            Role::kObserver);
  EXPECT_EQ(RequiredRole("/streamfit.v1.Learner/Snapshot"), Role::kOperator);
  EXPECT_EQ(RequiredRole("/streamfit.v1.Learner/Restore"), Role::kAdmin);
  EXPECT_EQ(RequiredRole("/streamfit.v1.Learner/NotAMethod"), Role::kAdmin);
  EXPECT_EQ(RequiredRole("/inference.GRPCInferenceService/ServerReady"),
            std::nullopt);
  EXPECT_EQ(RequiredRole("/inference.GRPCInferenceService/ModelInfer"),
            Role::kPredictor);
  EXPECT_EQ(RequiredRole("/other.Service/Predict"), Role::kAdmin);
  EXPECT_EQ(RequiredRole(""), Role::kAdmin);
}

TEST(CredentialTableTest, FindsTokensByHashAndCertificatesByCommonName) {
  const std::string contents = absl::StrCat(
      "# comment\n\n", "observer ", Sha256Hex("s3cret"), " feeder\n", "admin ",
      Sha256Hex("root"), "\n", "operator cn:batch job\n");
  absl::StatusOr<CredentialTable> table = CredentialTable::Parse(contents);
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_TRUE(table->FindToken("s3cret").has_value());
  EXPECT_EQ(table->FindToken("s3cret")->name, "feeder");
  EXPECT_EQ(table->FindToken("s3cret")->role, Role::kObserver);
  EXPECT_EQ(table->FindToken("root")->name, "token-4");
  EXPECT_EQ(table->FindToken("s3cre"), std::nullopt);
  EXPECT_EQ(table->FindToken(""), std::nullopt);
  EXPECT_EQ(table->FindCommonName("batch job")->role, Role::kOperator);
  EXPECT_EQ(table->FindCommonName("batch"), std::nullopt);
}

TEST(CredentialTableTest, RejectsMalformedLinesNamingTheLine) {
  EXPECT_THAT(
      CredentialTable::Parse("admin\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1")));
  EXPECT_THAT(CredentialTable::Parse("\nroot " + Sha256Hex("x") + "\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 2: unknown role 'root'")));
  // A token in clear text rather than its hash.
  EXPECT_THAT(
      CredentialTable::Parse("admin hunter2\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("SHA-256")));
  EXPECT_THAT(CredentialTable::Parse("admin cn:\n"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ExposureTest, RecognizesLoopbackAddresses) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:50051"));
  EXPECT_TRUE(IsLoopbackAddress("127.1.2.3:0"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:50051"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:50051"));
  EXPECT_TRUE(IsLoopbackAddress("unix:/run/streamfit.sock"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0:50051"));
  EXPECT_FALSE(IsLoopbackAddress("[::]:50051"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.1:50051"));
  EXPECT_FALSE(IsLoopbackAddress("example.com:50051"));
  EXPECT_FALSE(IsLoopbackAddress("127.example.com:50051"));
}

TEST(ExposureTest, ARemoteAddressNeedsTlsAndAuthenticationOrTheRiskFlag) {
  EXPECT_TRUE(CheckExposure({"127.0.0.1:1"}).ok());
  EXPECT_THAT(CheckExposure({"0.0.0.0:1"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--allow_insecure_remote")));
  EXPECT_THAT(CheckExposure({"0.0.0.0:1", /*tls=*/true}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("without authentication")));
  EXPECT_TRUE(CheckExposure({"0.0.0.0:1", true, /*tokens=*/true}).ok());
  EXPECT_TRUE(CheckExposure({"0.0.0.0:1", true, false,
                             /*client_certificates=*/true})
                  .ok());
  EXPECT_TRUE(CheckExposure({"0.0.0.0:1", false, false, false,
                             /*allow_insecure_remote=*/true})
                  .ok());
  EXPECT_THAT(
      CheckExposure({"127.0.0.1:1", false, /*tokens=*/true}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs TLS")));
}

}  // namespace
}  // namespace streamfit::auth
