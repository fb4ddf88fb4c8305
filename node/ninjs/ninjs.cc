#include "ninjs/ninjs.h"

#include <cctype>

#include "lantoa/encoding.h"
#include "lantoa/event.h"

namespace lantoa::node {
namespace {

using nlohmann::json;
using E = v1::Error;

constexpr std::string_view kIdRole = "lantoa-event-id";
constexpr std::string_view kLinkRole = "canonical-url";

// The first "value" of an array of {value, ...} objects ("" when absent).
std::string first_value(const json& doc, const char* key) {
  if (!doc.contains(key) || !doc[key].is_array()) return {};
  for (const auto& item : doc[key]) {
    if (item.is_object() && item.contains("value") && item["value"].is_string()) return item["value"];
  }
  return {};
}

// An absolute URI as RFC 3986 writes it (ASCII only, no spaces): what ninjs's
// "format": "uri" accepts.
bool is_uri(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == 0 || colon == std::string_view::npos || !std::isalpha(static_cast<unsigned char>(text[0]))) return false;
  for (size_t i = 0; i < colon; ++i) {
    const char c = text[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return false;
  }
  static constexpr std::string_view kAllowed = "-._~!$&'()*+,;=:@/?#[]";
  for (size_t i = colon + 1; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '%') {
      if (i + 2 >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
        return false;
      }
      i += 2;
    } else if (c >= 0x80 || (!std::isalnum(c) && kAllowed.find(static_cast<char>(c)) == std::string_view::npos)) {
      return false;
    }
  }
  return true;
}

Status field_error(const std::string& field, const std::string& rule) {
  return Status(E::INVALID_ARGUMENT, "ninjs field \"" + field + "\" " + rule);
}

}  // namespace

bool json_nested_deeper_than(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

std::string ninjs_uri(std::string_view origin, std::string_view first_event_id) {
  return "urn:lantoa:" + std::string(origin) + ":" + to_hex(first_event_id);
}

// The document made from the event's own fields.
namespace {

json made_ninjs(const v1::Event& e, std::string_view event_id, std::string_view first_event_id, uint32_t version) {
  json doc = {{"uri", ninjs_uri(e.origin(), first_event_id)},
              {"type", "text"},
              {"version", std::to_string(version)},
              {"versionCreated", format_time_ms(e.created_ms())},
              {"pubStatus", e.kind() == v1::RETRACTION ? "canceled" : "usable"},
              {"urgency", e.urgency()},
              {"language", e.language()}};
  if (!e.headline().empty()) doc["headlines"] = json::array({{{"value", e.headline()}}});
  if (e.embargo_until_ms()) doc["embargoedUntil"] = format_time_ms(e.embargo_until_ms());
  if (e.expires_ms()) doc["expires"] = format_time_ms(e.expires_ms());
  if (e.content_created_ms()) doc["contentCreated"] = format_time_ms(e.content_created_ms());
  if (!e.summary().empty()) doc["descriptions"] = json::array({{{"value", e.summary()}}});
  if (!e.body().empty()) {
    doc["bodies"] = json::array(
        {{{"value", e.body()}, {"contentType", e.body_type().empty() ? "text/plain" : e.body_type()}}});
  }
  if (!e.byline().empty()) doc["by"] = e.byline();
  for (const auto& s : e.subjects()) {
    // A code that is a URI (medtop:04000000, http://...) is the subject's
    // uri; anything else (a feed's category "Thời sự") is its literal.
    json subject = {{is_uri(s.code()) ? "uri" : "literal", s.code()}};
    if (!s.name().empty()) subject["name"] = s.name();
    doc["subjects"].push_back(subject);
  }
  int n = 0;
  for (const auto& a : e.attachments()) {
    json rendition = {{"name", "original"}, {"href", a.uri()}, {"contentType", a.media_type()}};
    if (a.size_bytes()) rendition["sizeInBytes"] = a.size_bytes();
    json assoc = {{"name", "attachment-" + std::to_string(++n)},
                  {"uri", a.uri()},
                  {"type", a.media_type().starts_with("image/") ? "picture" : "component"},
                  {"renditions", json::array({rendition})}};
    if (!a.title().empty()) assoc["headlines"] = json::array({{{"value", a.title()}}});
    doc["associations"].push_back(assoc);
  }
  doc["altIds"] = json::array({{{"role", kIdRole}, {"value", to_hex(event_id)}}});
  if (!e.link().empty()) doc["altIds"].push_back({{"role", kLinkRole}, {"value", e.link()}});
  return doc;
}

}  // namespace

json to_ninjs(const v1::Event& e, std::string_view event_id, std::string_view first_event_id, uint32_t version) {
  json doc = made_ninjs(e, event_id, first_event_id, version);
  if (e.ninjs().empty() || json_nested_deeper_than(e.ninjs())) return doc;  // none, or no document: the made one
  json author = json::parse(e.ninjs(), nullptr, false);
  if (!author.is_object()) return doc;  // not a document: the made one serves
  if (author.contains("bodies") && author["bodies"].is_array() && !author["bodies"].empty() &&
      author["bodies"][0].is_object() && !author["bodies"][0].contains("value") && !e.body().empty()) {
    author["bodies"][0]["value"] = e.body();  // left out by the author's node: it is the event's body
  }
  for (auto& [key, value] : author.items()) {
    if (key == "pubStatus") continue;  // follows the event's kind (made above)
    doc[key] = std::move(value);
  }
  if (e.kind() != v1::RETRACTION && author.contains("pubStatus") && author["pubStatus"].is_string() &&
      author["pubStatus"] != "canceled") {
    doc["pubStatus"] = author["pubStatus"];
  }
  return doc;
}

Result<v1::Event> from_ninjs(const json& doc, const std::string& origin, const std::string& topic,
                             const std::string& previous_version, const std::string& previous_headline) {
  if (!doc.is_object()) return Status(E::INVALID_ARGUMENT, "a ninjs document must be a JSON object");
  auto str = [&](const char* key) -> Result<std::string> {
    if (!doc.contains(key)) return std::string();
    if (!doc[key].is_string()) return field_error(key, "must be a string");
    return doc[key].get<std::string>();
  };
  auto status = str("pubStatus");
  if (!status) return status.status();
  if (!status->empty() && *status != "usable" && *status != "canceled") {
    return field_error("pubStatus", *status == "withheld"
                                        ? "is \"withheld\": a withheld item is not published; send it when it is \"usable\""
                                        : "must be \"usable\" or \"canceled\" (got \"" + status->substr(0, 40) + "\")");
  }
  std::string headline = first_value(doc, "headlines");
  if (headline.empty()) {
    auto title = str("title");
    if (!title) return title.status();
    headline = *title;
  }
  const std::string description = first_value(doc, "descriptions");
  if (headline.empty() && !description.empty()) {  // a picture item: its caption serves
    headline = description.substr(0, 300);
    while (!headline.empty() && !is_valid_utf8(headline)) headline.pop_back();
  }
  EventBuilder b(origin, 1, topic);
  b.headline(headline).summary(description == headline ? "" : description);
  if (doc.contains("bodies")) {
    if (!doc["bodies"].is_array()) return field_error("bodies", "must be an array");
    if (!doc["bodies"].empty()) {
      const json& body = doc["bodies"][0];
      if (!body.is_object() || !body.contains("value") || !body["value"].is_string()) {
        return field_error("bodies[0].value", "must be a string");
      }
      const std::string type = body.value("contentType", "text/plain");
      b.body(body["value"].get<std::string>(), type.find("html") != std::string::npos ? "text/html" : "text/plain");
    }
  }
  if (doc.contains("urgency")) {
    if (!doc["urgency"].is_number_integer()) return field_error("urgency", "must be an integer 1..9");
    b.urgency(doc["urgency"].get<uint32_t>());
  }
  auto language = str("language");
  if (!language) return language.status();
  if (!language->empty()) b.language(*language);
  for (const auto& [field, set] : std::initializer_list<std::pair<const char*, bool>>{{"embargoedUntil", true},
                                                                                     {"expires", false}}) {
    auto text = str(field);
    if (!text) return text.status();
    if (text->empty()) continue;
    auto t = parse_time_ms(*text);
    if (!t) return field_error(field, "must be a date-time like 2026-11-28T13:00:00Z");
    if (set) b.embargo_until_ms(*t);
    else b.expires_ms(*t);
  }
  auto content_created = str("contentCreated");
  if (!content_created) return content_created.status();
  if (!content_created->empty()) {
    auto t = parse_time_ms(*content_created);
    if (!t) return field_error("contentCreated", "must be a date-time like 2026-11-28T13:00:00Z");
    b.content_created_ms(*t);
  }
  auto by = str("by");
  if (!by) return by.status();
  if (!by->empty()) b.byline(*by);
  if (doc.contains("subjects") && doc["subjects"].is_array()) {
    for (const auto& s : doc["subjects"]) {
      if (!s.is_object()) return field_error("subjects", "must hold objects");
      const std::string code = s.value("uri", s.value("name", ""));
      if (!code.empty()) b.subject(code, s.value("name", ""));
    }
  }
  auto add_rendition = [&](const json& r, const std::string& title) {
    if (!r.is_object() || !r.contains("href") || !r["href"].is_string()) return;
    v1::Attachment a;
    a.set_uri(r["href"].get<std::string>());
    a.set_media_type(r.value("contentType", "application/octet-stream"));
    if (r.contains("sizeInBytes") && r["sizeInBytes"].is_number_unsigned()) a.set_size_bytes(r["sizeInBytes"]);
    a.set_title(title);
    b.attachment(std::move(a));
  };
  if (doc.contains("associations") && doc["associations"].is_array()) {
    for (const auto& assoc : doc["associations"]) {
      if (!assoc.is_object() || !assoc.contains("renditions") || !assoc["renditions"].is_array()) continue;
      if (!assoc["renditions"].empty()) add_rendition(assoc["renditions"][0], first_value(assoc, "headlines"));
    }
  }
  if (doc.contains("renditions") && doc["renditions"].is_array() && !doc["renditions"].empty()) {
    add_rendition(doc["renditions"][0], "");  // the item itself is a picture: keep its main rendition
  }
  if (doc.contains("altIds") && doc["altIds"].is_array()) {
    for (const auto& alt : doc["altIds"]) {
      if (alt.is_object() && alt.value("role", "") == kLinkRole) b.link(alt.value("value", ""));
    }
  }
  if (*status == "canceled") {
    if (previous_version.empty()) {
      return Status(E::INVALID_REFERENCE, "ninjs field \"uri\": a canceled item needs an earlier version to withdraw");
    }
    b.kind(v1::RETRACTION).refers_to(previous_version);
    if (headline.empty()) b.headline(previous_headline);  // withdrawing needs no headline
  } else if (!previous_version.empty()) {
    b.kind(v1::CORRECTION).refers_to(previous_version);
  }
  // The document itself travels too, so that receivers get it as written;
  // its first body's value is the event's body already.
  json carried = doc;
  if (carried.contains("bodies") && carried["bodies"].is_array() && !carried["bodies"].empty() &&
      carried["bodies"][0].is_object() && carried["bodies"][0].contains("value") &&
      carried["bodies"][0]["value"].is_string() && !carried["bodies"][0]["value"].get<std::string>().empty()) {
    carried["bodies"][0].erase("value");
  }
  b.ninjs(carried.dump());
  return b.build();
}

}  // namespace lantoa::node
