#include "proto_scan.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/message.h>
#include <google/protobuf/wire_format_lite.h>

#include <string>

#include "lantoa/encoding.h"

namespace lantoa::internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::io::CodedInputStream;
using WFL = google::protobuf::internal::WireFormatLite;

constexpr int kMaxDepth = 16;

Status scan(const Descriptor* d, std::string_view bytes, Code bad, const std::string& path, int depth) {
  if (depth > kMaxDepth) return Status(bad, "messages nested deeper than 16 levels at " + path);
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) return Status(bad, "message too large to parse");
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
  const int size = static_cast<int>(bytes.size());
  while (in.CurrentPosition() < size) {
    const uint32_t tag = in.ReadTag();
    const int number = WFL::GetTagFieldNumber(tag);
    if (tag == 0 || number == 0) {
      return Status(bad, "invalid field tag at byte " + std::to_string(in.CurrentPosition()) + " of " + path);
    }
    const FieldDescriptor* field = d ? d->FindFieldByNumber(number) : nullptr;
    const std::string name = path + "." + (field ? field->name() : "#" + std::to_string(number));
    switch (WFL::GetTagWireType(tag)) {
      case WFL::WIRETYPE_VARINT: {
        uint64_t v;
        if (!in.ReadVarint64(&v)) return Status(bad, "truncated or overlong varint in " + name);
        break;
      }
      case WFL::WIRETYPE_FIXED64: {
        uint64_t v;
        if (!in.ReadLittleEndian64(&v)) return Status(bad, "truncated fixed64 in " + name);
        break;
      }
      case WFL::WIRETYPE_FIXED32: {
        uint32_t v;
        if (!in.ReadLittleEndian32(&v)) return Status(bad, "truncated fixed32 in " + name);
        break;
      }
      case WFL::WIRETYPE_LENGTH_DELIMITED: {
        uint32_t length;
        if (!in.ReadVarint32(&length)) return Status(bad, "truncated length of " + name);
        const int at = in.CurrentPosition();
        if (length > static_cast<uint32_t>(size - at)) {
          return Status(bad, name + " claims " + std::to_string(length) + " bytes but only " +
                                 std::to_string(size - at) + " remain (truncated)");
        }
        std::string_view value = bytes.substr(static_cast<size_t>(at), length);
        in.Skip(static_cast<int>(length));
        if (field && field->type() == FieldDescriptor::TYPE_STRING) {
          if (!is_valid_utf8(value)) {
            return Status(v1::Error::INVALID_UTF8, name.substr(name.find('.') + 1) + " is not valid UTF-8");
          }
        } else if (field && field->type() == FieldDescriptor::TYPE_MESSAGE) {
          LANTOA_RETURN_IF_ERROR(scan(field->message_type(), value, bad, name, depth + 1));
        }
        break;
      }
      default:
        return Status(bad, "unsupported wire type (group) in " + name);
    }
  }
  return Status::Ok();
}

}  // namespace

Status scan_protobuf(const Descriptor* descriptor, std::string_view bytes, Code malformed_code) {
  return scan(descriptor, bytes, malformed_code, descriptor->name(), 0);
}

Status parse_protobuf(google::protobuf::Message& message, std::string_view bytes, Code malformed_code) {
  LANTOA_RETURN_IF_ERROR(scan_protobuf(message.GetDescriptor(), bytes, malformed_code));
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status(malformed_code, "cannot parse " + message.GetDescriptor()->name());
  }
  return Status::Ok();
}

}  // namespace lantoa::internal
