# cmake -DINPUT=file -DOUTPUT=file.cc -DNAME=symbol -DNAMESPACE=ns -P embed_text.cmake
# Writes a C++ source that defines `std::string_view NAMESPACE::NAME()`
# returning INPUT's text, so that a program carries the file in itself.
file(READ "${INPUT}" content)
string(FIND "${content}" ")LANTOA_TEXT\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )LANTOA_TEXT\"")
endif()
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by cmake/embed_text.cmake. Do not edit.\n"
  "#include <string_view>\n"
  "namespace ${NAMESPACE} {\n"
  "std::string_view ${NAME}() {\n"
  "  static constexpr std::string_view text = R\"LANTOA_TEXT(${content})LANTOA_TEXT\";\n"
  "  return text;\n"
  "}\n"
  "}  // namespace ${NAMESPACE}\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
