#include "mpi/host/board_status.hpp"

#include "mpi/host/link_client.hpp"
#include "mpi/protocol/version.hpp"

#include <cmath>
#include <iomanip>
#include <map>
#include <sstream>

namespace mpi::host {

namespace v1 = link::v1;

BoardSnapshot read_board_status(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
  LinkClient link(host, port, timeout);
  v1::Envelope hello;
  hello.mutable_hello()->set_protocol_major(protocol::kProtocolMajor);
  hello.mutable_hello()->set_protocol_minor(protocol::kProtocolMinor);
  hello.mutable_hello()->set_protocol_patch(protocol::kProtocolPatch);
  hello.mutable_hello()->set_client_name("mpi status");
  hello.mutable_hello()->set_role(v1::ROLE_OBSERVER);
  BoardSnapshot snapshot;
  const v1::Envelope reply = link.request(hello);
  if (!reply.has_hello_reply()) throw LinkError(host + ":" + std::to_string(port) + ": the board answered Hello with something else");
  snapshot.hello = reply.hello_reply();
  v1::Envelope request;
  request.mutable_status_request();
  const v1::Envelope status = link.request(request);
  if (status.has_error()) throw LinkError(host + ":" + std::to_string(port) + ": the board refused StatusRequest: " + status.error().message());
  if (!status.has_status()) throw LinkError(host + ":" + std::to_string(port) + ": the board answered StatusRequest with something else");
  snapshot.status = status.status();
  return snapshot;
}

double control_error(const v1::FieldReport& report) {
  if (report.target_t() == 0.0) return 0.0;
  return (report.measured_t() - report.target_t()) / report.target_t();
}

std::string format_board_status(const BoardSnapshot& s) {
  std::ostringstream r;
  r.setf(std::ios::fixed);
  const v1::HelloReply& h = s.hello;
  const v1::Status& st = s.status;
  r << "board: " << h.server_name() << ", link protocol " << h.protocol_major() << '.' << h.protocol_minor() << '.' << h.protocol_patch()
    << ", " << h.board().drive_channels() << " drive channels, " << h.board().adc_channels() << " ADC channels at "
    << std::setprecision(3) << h.board().adc_sample_rate_hz() / 1e6 << " MS/s\n";
  r << "mode: " << v1::BoardMode_Name(st.mode()) << ", scan " << v1::ScanState_Name(st.state()) << " (scan id " << st.scan_id()
    << "), samples acquired " << st.write_pointer() << ", streamed up to " << st.next_sample() << '\n';
  if (st.faults_size() == 0) {
    r << "faults: none\n";
  } else {
    r << "faults (" << st.faults_size() << ", latched until mpi clear-faults):\n";
    for (const v1::Fault& f : st.faults()) r << "  " << v1::FaultKind_Name(f.kind()) << " at sample " << f.sample() << ": " << f.message() << '\n';
  }
  if (!st.fault().empty() && st.faults_size() == 0) r << "condition: " << st.fault() << '\n';
  std::map<std::uint32_t, const v1::FieldReport*> latest;  // the newest report per channel (reports are oldest first)
  for (const v1::FieldReport& f : st.last_field()) latest[f.channel()] = &f;
  for (const auto& [channel, f] : latest) {
    r << "drive channel " << channel << ": target " << std::setprecision(3) << f->target_t() * 1e3 << " mT, measured " << f->measured_t() * 1e3
      << " mT, control error " << std::setprecision(2) << 100.0 * control_error(*f) << " %, " << f->verdict() << '\n';
  }
  if (latest.empty()) r << "drive field: no control report (no scan running since the firmware started)\n";
  for (const v1::Temperature& t : st.temperatures()) {
    r << "temperature " << t.name() << ": " << std::setprecision(1) << t.celsius() << " degC (limit " << t.limit_celsius() << " degC)\n";
  }
  return r.str();
}

}  // namespace mpi::host
