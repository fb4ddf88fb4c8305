#include "api/atom.h"

#include "lantoa/names.h"

#include <pugixml.hpp>

#include <sstream>

#include "lantoa/encoding.h"
#include "lantoa/event.h"

namespace lantoa::node {

bool in_atom_feed(const nlohmann::json& r) {
  const auto& meta = r["lantoa"];
  const std::string kind = meta.value("kind", "");
  // Not what others address to this portal (proposals, answers): those are
  // for the two ends only, and a feed URL opens with its key alone.
  // (nor an endorsement carrying its original's retraction: a withdrawal)
  return r["inbox"].value("state", "current") == "current" && r["ninjs"].value("pubStatus", "usable") != "canceled" &&
         (kind == "news" || kind == "correction" || kind == "endorsement") &&
         !inbox_address(meta.value("topic", ""));
}

std::string atom_feed(const std::vector<InboxEntry>& entries, const std::string& title, const std::string& feed_id,
                      const std::string& self_url) {
  pugi::xml_document doc;
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "utf-8";
  pugi::xml_node feed = doc.append_child("feed");
  feed.append_attribute("xmlns") = "http://www.w3.org/2005/Atom";
  feed.append_attribute("xmlns:lantoa") = "urn:lantoa:atom";
  feed.append_child("id").text() = feed_id.c_str();
  feed.append_child("title").text() = title.c_str();
  const std::string updated =
      entries.empty() ? format_time_ms(unix_now_ms()) : entries.front().record["ninjs"].value("versionCreated", "");
  feed.append_child("updated").text() = updated.c_str();
  pugi::xml_node self = feed.append_child("link");
  self.append_attribute("rel") = "self";
  self.append_attribute("href") = self_url.c_str();
  feed.append_child("generator").text() = "lantoa-node";
  for (const InboxEntry& e : entries) {
    const auto& meta = e.record["lantoa"];
    const auto& doc_ninjs = e.record["ninjs"];
    pugi::xml_node entry = feed.append_child("entry");
    entry.append_child("id").text() = doc_ninjs.value("uri", "").c_str();
    std::string headline;
    if (doc_ninjs.contains("headlines") && !doc_ninjs["headlines"].empty()) {
      headline = doc_ninjs["headlines"][0].value("value", "");
    }
    entry.append_child("title").text() = headline.c_str();
    entry.append_child("updated").text() = doc_ninjs.value("versionCreated", "").c_str();
    if (meta.contains("endorsement")) {  // written by the original's author, endorsed by the signer
      entry.append_child("author").append_child("name").text() =
          meta["endorsement"].value("written_by", "").c_str();
      entry.append_child("contributor").append_child("name").text() = meta.value("signer", "").c_str();
    } else {
      entry.append_child("author").append_child("name").text() = meta.value("signer", "").c_str();
    }
    for (const auto& alt : doc_ninjs.value("altIds", nlohmann::json::array())) {
      if (alt.value("role", "") != "canonical-url") continue;
      pugi::xml_node link = entry.append_child("link");
      link.append_attribute("rel") = "alternate";
      link.append_attribute("href") = alt.value("value", "").c_str();
    }
    if (doc_ninjs.contains("descriptions") && !doc_ninjs["descriptions"].empty()) {
      entry.append_child("summary").text() = doc_ninjs["descriptions"][0].value("value", "").c_str();
    }
    if (doc_ninjs.contains("bodies") && !doc_ninjs["bodies"].empty()) {
      const auto& body = doc_ninjs["bodies"][0];
      pugi::xml_node content = entry.append_child("content");
      content.append_attribute("type") = body.value("contentType", "") == "text/html" ? "html" : "text";
      content.text() = body.value("value", "").c_str();
    }
    for (const auto& s : doc_ninjs.value("subjects", nlohmann::json::array())) {
      pugi::xml_node category = entry.append_child("category");
      category.append_attribute("term") = s.value("uri", "").c_str();
      if (s.contains("name")) category.append_attribute("label") = s.value("name", "").c_str();
    }
    for (const auto& a : doc_ninjs.value("associations", nlohmann::json::array())) {
      if (!a.contains("renditions") || a["renditions"].empty()) continue;
      const auto& r = a["renditions"][0];
      pugi::xml_node link = entry.append_child("link");
      link.append_attribute("rel") = "enclosure";
      link.append_attribute("href") = r.value("href", "").c_str();
      link.append_attribute("type") = r.value("contentType", "").c_str();
      if (r.contains("sizeInBytes")) link.append_attribute("length") = r["sizeInBytes"].get<uint64_t>();
    }
    pugi::xml_node ev = entry.append_child("lantoa:event");
    for (const char* key : {"event_id", "topic", "kind", "signer", "signer_key", "signature", "refers_to"}) {
      if (meta.contains(key) && meta[key].is_string()) ev.append_attribute(key) = meta[key].get<std::string>().c_str();
    }
    ev.append_attribute("version") = meta.value("version", 1u);
    if (meta.contains("endorsement")) {
      const auto& en = meta["endorsement"];
      ev.append_attribute("endorsed_by") = en.value("endorsed_by", "").c_str();
      ev.append_attribute("written_by") = en.value("written_by", "").c_str();
      ev.append_attribute("original_id") = en["original"].value("event_id", "").c_str();
      ev.append_attribute("original_signature") = en["original"].value("signature", "").c_str();
      ev.append_attribute("provenance") = meta.value("provenance", "").c_str();
    }
  }
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_default, pugi::encoding_utf8);
  return out.str();
}

}  // namespace lantoa::node
