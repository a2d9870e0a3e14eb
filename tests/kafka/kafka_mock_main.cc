// A Kafka cluster for tests: librdkafka's mock cluster (real Kafka protocol
// on loopback ports), driven by one command per line on stdin; each command
// is answered by one line on stdout. Exits at EOF.
//
//   (start)                 -> "bootstrap HOST:PORT,..."
//   topic NAME              -> "ok": creates NAME with one partition
//   produce TOPIC HEXVALUE  -> "offset N" once the cluster holds it
//                              ("error ..." if not)
//   down ID | up ID         -> "ok": broker ID (1..brokers) stops or
//                              resumes answering
//   leader TOPIC ID         -> "ok": broker ID leads TOPIC's partition
//   rtt ID MS               -> "ok": broker ID answers every request MS
//                              milliseconds late (0: at once)
//   end TOPIC               -> "end N": the partition's high watermark
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"

namespace {

constexpr int kBrokers = 3;

rd_kafka_t* NewClient(rd_kafka_type_t type, const std::string& bootstrap) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "0", error, sizeof error);
  if (!bootstrap.empty()) {
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error,
                      sizeof error);
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, error, sizeof error);
  if (rk == nullptr) {
    std::cerr << "rd_kafka_new: " << error << "\n";
    std::exit(1);
  }
  return rk;
}

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::cout << "error " << rd_kafka_err2str(message->err) << std::endl;
  } else {
    std::cout << "offset " << message->offset << std::endl;
  }
}

}  // namespace

int main() {
  rd_kafka_t* cluster_handle = NewClient(RD_KAFKA_PRODUCER, "");
  rd_kafka_mock_cluster_t* cluster =
      rd_kafka_mock_cluster_new(cluster_handle, kBrokers);
  const std::string bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);

  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error,
                    sizeof error);
  rd_kafka_conf_set(conf, "log_level", "0", error, sizeof error);
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  rd_kafka_t* producer =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);

  std::cout << "bootstrap " << bootstrap << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string command, topic, value;
    int id = 0, ms = 0;
    in >> command;
    if (command == "topic" && in >> topic) {
      rd_kafka_mock_topic_create(cluster, topic.c_str(), 1, kBrokers);
      std::cout << "ok" << std::endl;
    } else if (command == "produce" && in >> topic >> value) {
      const std::string bytes = absl::HexStringToBytes(value);
      rd_kafka_producev(
          producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_VALUE(const_cast<char*>(bytes.data()), bytes.size()),
          RD_KAFKA_V_END);
      rd_kafka_flush(producer, 30'000);  // answers in OnDelivery
    } else if ((command == "down" || command == "up") && in >> id) {
      if (command == "down") {
        rd_kafka_mock_broker_set_down(cluster, id);
      } else {
        rd_kafka_mock_broker_set_up(cluster, id);
      }
      std::cout << "ok" << std::endl;
    } else if (command == "leader" && in >> topic >> id) {
      rd_kafka_mock_partition_set_leader(cluster, topic.c_str(), 0, id);
      std::cout << "ok" << std::endl;
    } else if (command == "rtt" && in >> id >> ms) {
      rd_kafka_mock_broker_set_rtt(cluster, id, ms);
      std::cout << "ok" << std::endl;
    } else if (command == "end" && in >> topic) {
      int64_t low = -1, high = -1;
      rd_kafka_query_watermark_offsets(producer, topic.c_str(), 0, &low, &high,
                                       10'000);
      std::cout << "end " << high << std::endl;
    } else {
      std::cout << "error unknown command: " << line << std::endl;
    }
  }
  rd_kafka_destroy(producer);
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(cluster_handle);
  return 0;
}
