// Kafka mode: a new replica's models from a running replica
// (--bootstrap_peer), so it need not replay topics from their start (which
// Kafka's retention may no longer hold).
#ifndef STREAMFIT_SERVER_KAFKA_PEER_SNAPSHOT_H_
#define STREAMFIT_SERVER_KAFKA_PEER_SNAPSHOT_H_

#include <string>

#include "absl/status/statusor.h"
#include "server/kafka/model_topic.h"

namespace streamfit::kafka {

// Model `model` (incarnation `incarnation`, of `config`) as the replica at
// `peer` (host:port, plaintext gRPC) holds it, with the topic position
// where it continues. UNAVAILABLE if the peer cannot be asked;
// FAILED_PRECONDITION if its model is another incarnation or config (it
// has not read the catalogue that far, or has read further).
absl::StatusOr<TopicCheckpoint> FetchPeerSnapshot(const std::string& peer,
                                                  const std::string& model,
                                                  int64_t incarnation,
                                                  const ModelConfig& config);

}  // namespace streamfit::kafka

#endif  // STREAMFIT_SERVER_KAFKA_PEER_SNAPSHOT_H_
