# Every third-party dependency, found once for the whole tree. All come from
# Debian packages (see lantoa.sh for the package names); nothing is downloaded.

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(spdlog REQUIRED)
find_package(tomlplusplus REQUIRED)

pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
pkg_check_modules(LIBCRYPTO REQUIRED IMPORTED_TARGET libcrypto)  # SHA-256 with CPU extensions
# Debian builds cpp-httplib as a compiled library (with OpenSSL), found by pkg-config.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 REQUIRED)
# lantoa-node: the feed adapter fetches with libcurl and parses XML with pugixml.
find_package(CURL REQUIRED)
pkg_check_modules(PUGIXML REQUIRED IMPORTED_TARGET pugixml)
# ...and sanitises received HTML with libxml2's HTML parser.
pkg_check_modules(LIBXML2 REQUIRED IMPORTED_TARGET libxml-2.0)
# ...and compares feed items after Unicode NFC normalisation with ICU.
pkg_check_modules(ICU_UC REQUIRED IMPORTED_TARGET icu-uc)

# LMDB ships no pkg-config file or CMake package on Debian 12.
find_path(LMDB_INCLUDE_DIR lmdb.h REQUIRED)
find_library(LMDB_LIBRARY lmdb REQUIRED)
add_library(lantoa_lmdb INTERFACE)
target_include_directories(lantoa_lmdb SYSTEM INTERFACE ${LMDB_INCLUDE_DIR})
target_link_libraries(lantoa_lmdb INTERFACE ${LMDB_LIBRARY})

if(LANTOA_BUILD_TESTS AND NOT LANTOA_FUZZ)
  find_package(GTest REQUIRED)
endif()
