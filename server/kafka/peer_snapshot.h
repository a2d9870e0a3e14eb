// Kafka mode: a new replica's models from a running replica
// (--bootstrap_peer), so it need not replay topics from their start (which
// Kafka's retention may no longer hold).
#ifndef STREAMFIT_SERVER_KAFKA_PEER_SNAPSHOT_H_
#define STREAMFIT_SERVER_KAFKA_PEER_SNAPSHOT_H_

#include <string>

#include "absl/status/statusor.h"
#include "server/kafka/model_topic.h"

namespace streamfit::kafka {

// How to reach the peer (--bootstrap_peer*): plaintext gRPC, or TLS
// verified against the CA in `ca_file`, with the bearer token in
// `token_file` if the peer checks tokens (a role allowed Snapshot:
// operator or admin). The files are read at each use.
struct PeerOptions {
  std::string address;  // host:port; empty: no peer
  std::string ca_file;
  std::string token_file;
};

// Model `model` (incarnation `incarnation`, of `config`) as the replica at
// `peer` holds it, with the topic position where it continues. UNAVAILABLE
// if the peer cannot be asked (or its files read); FAILED_PRECONDITION if
// its model is another incarnation or config (it has not read the
// catalogue that far, or has read further).
absl::StatusOr<TopicCheckpoint> FetchPeerSnapshot(const PeerOptions& peer,
                                                  const std::string& model,
                                                  int64_t incarnation,
                                                  const ModelConfig& config);

}  // namespace streamfit::kafka

#endif  // STREAMFIT_SERVER_KAFKA_PEER_SNAPSHOT_H_
