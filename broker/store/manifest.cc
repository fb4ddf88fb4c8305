#include "store/manifest.h"

#include <nlohmann/json.hpp>

#include "lantoa/internal/file_util.h"
#include "lantoa/event.h"

namespace lantoa::broker {
namespace {

using E = lantoa::v1::Error;

constexpr int kFormat = 1;

Status damaged(const std::filesystem::path& file, const std::string& why) {
  return Status(E::STORAGE_ERROR, file.string() + " is damaged (" + why +
                                      "); restore it from a backup, or mend it by hand (its format is in "
                                      "docs/operating-a-broker.md) with highest_seq and reserved_seq at least "
                                      "as high as before");
}

}  // namespace

Result<std::optional<Manifest>> Manifest::load(const std::filesystem::path& dir) {
  const auto file = dir / kFileName;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return std::optional<Manifest>();
  auto content = internal::read_file(file, 64 << 10);
  if (!content) return content.status();
  auto j = nlohmann::json::parse(content->data, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return damaged(file, "not a JSON object");
  Manifest m;
  try {
    if (j.at("format").get<int>() != kFormat) {
      return Status(E::STORAGE_ERROR, file.string() + " has format " + j.at("format").dump() +
                                          "; this broker understands format " + std::to_string(kFormat));
    }
    m.store_id = j.at("store_id").get<std::string>();
    m.member = j.value("member", "");
    m.highest_seq = j.at("highest_seq").get<uint64_t>();
    m.reserved_seq = std::max(m.highest_seq, j.value("reserved_seq", uint64_t{0}));
    m.updated_ms = j.value("updated_ms", int64_t{0});
  } catch (const nlohmann::json::exception& e) {
    return damaged(file, e.what());
  }
  if (m.store_id.size() != 32) return damaged(file, "store_id is not 32 hex digits");
  return std::optional<Manifest>(std::move(m));
}

Status Manifest::save(const std::filesystem::path& dir) const {
  nlohmann::json j = {{"format", kFormat},
                      {"store_id", store_id},
                      {"member", member},
                      {"highest_seq", highest_seq},
                      {"reserved_seq", reserved_seq},
                      {"updated_ms", updated_ms}};
  return internal::write_file_atomic(dir / kFileName, j.dump(2) + "\n", 0644, true);
}

Result<bool> check_store_against_manifest(const Manifest& manifest, const StoreFound& found,
                                          const std::filesystem::path& dir, bool accept_change) {
  const std::string store = (dir / "data.mdb").string();
  const std::string manifest_file = (dir / Manifest::kFileName).string();
  const std::string remedy =
      " Restore data.mdb from a backup (lantoa-broker backup), or start once with --accept-store-change to adopt "
      "this store (new broker sequences then continue after " +
      std::to_string(manifest.reserved_seq) + ", above any this folder handed out)";
  Status problem = Status::Ok();
  if (found.empty) {
    if (manifest.reserved_seq == 0) return false;  // nothing was ever committed
    problem = Status(E::STORAGE_ERROR, "the store " + store + " is missing or empty, but " + manifest_file +
                                           " says it held store " + manifest.store_id + " with broker sequences up to " +
                                           std::to_string(manifest.highest_seq) + "." + remedy);
  } else if (found.store_id != manifest.store_id) {
    problem = Status(E::STORAGE_ERROR, "the store " + store + " is store " + found.store_id + ", not store " +
                                           manifest.store_id + " that " + manifest_file +
                                           " names: it was replaced." + remedy);
  } else if (found.highest_seq < manifest.highest_seq) {
    problem = Status(E::STORAGE_ERROR, "the store " + store + " went back: it holds broker sequences up to " +
                                           std::to_string(found.highest_seq) + ", but had committed up to " +
                                           std::to_string(manifest.highest_seq) +
                                           " (restored from an older copy?)." + remedy);
  }
  if (problem.ok()) return false;
  if (accept_change) return true;
  return problem;
}

}  // namespace lantoa::broker
