// Fuzz target: a client frame as the broker receives it — parse the frame,
// then for a publish batch decode every event, for a subscribe validate its
// filters, as the broker's session layer does.
#include <cstddef>
#include <cstdint>

#include "lantoa/event.h"
#include "lantoa/names.h"
#include "lantoa/v1/wire.pb.h"
#include "proto_scan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  lantoa::v1::ClientFrame frame;
  if (!lantoa::internal::parse_protobuf(frame, bytes, lantoa::v1::Error::FRAME_MALFORMED).ok()) return 0;
  if (frame.has_publish()) {
    for (const auto& e : frame.publish().events()) (void)lantoa::decode_event(e);
  }
  if (frame.has_subscribe()) {
    for (const auto& f : frame.subscribe().filters()) {
      auto filter = lantoa::TopicFilter::parse(f);
      if (filter) (void)filter->matches("vn.gov.press");
    }
  }
  std::string again;
  frame.SerializeToString(&again);  // the broker re-encodes frames (never event bytes)
  return 0;
}
