#include "proto_scan.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/message.h>

#include <string>

#include "lantoa/encoding.h"

namespace lantoa::internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::io::CodedInputStream;
// The wire format's tag layout and wire types, as the protobuf encoding
// specification defines them (https://protobuf.dev/programming-guides/encoding/):
// written out here rather than taken from protobuf's internal:: classes,
// which may change between releases.
namespace wire {
constexpr int field_number(uint32_t tag) { return static_cast<int>(tag >> 3); }
constexpr uint32_t wire_type(uint32_t tag) { return tag & 7; }
constexpr uint32_t kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;
}  // namespace wire

constexpr int kMaxDepth = 16;

Status scan(const Descriptor* d, std::string_view bytes, Code bad, const std::string& path, int depth) {
  if (depth > kMaxDepth) return Status(bad, "messages nested deeper than 16 levels at " + path);
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) return Status(bad, "message too large to parse");
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
  const int size = static_cast<int>(bytes.size());
  while (in.CurrentPosition() < size) {
    const uint32_t tag = in.ReadTag();
    const int number = wire::field_number(tag);
    if (tag == 0 || number == 0) {
      return Status(bad, "invalid field tag at byte " + std::to_string(in.CurrentPosition()) + " of " + path);
    }
    const FieldDescriptor* field = d ? d->FindFieldByNumber(number) : nullptr;
    // Built by appending: GCC 12 at -O3 misreads `"#" + std::to_string(n)`
    // as an overlapping memcpy (-Werror=restrict, GCC bug 105651).
    std::string name = path;
    name += '.';
    if (field) {
      name += field->name();
    } else {
      name += '#';
      name += std::to_string(number);
    }
    switch (wire::wire_type(tag)) {
      case wire::kVarint: {
        uint64_t v;
        if (!in.ReadVarint64(&v)) return Status(bad, "truncated or overlong varint in " + name);
        break;
      }
      case wire::kFixed64: {
        uint64_t v;
        if (!in.ReadLittleEndian64(&v)) return Status(bad, "truncated fixed64 in " + name);
        break;
      }
      case wire::kFixed32: {
        uint32_t v;
        if (!in.ReadLittleEndian32(&v)) return Status(bad, "truncated fixed32 in " + name);
        break;
      }
      case wire::kLengthDelimited: {
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
