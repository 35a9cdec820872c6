# FindHiredis
# -----------
# Finds hiredis, the C client for Redis (Debian: libhiredis-dev), which
# heartbeat::redis builds on. Defines the imported target Hiredis::Hiredis
# and the variables Hiredis_FOUND, Hiredis_INCLUDE_DIR, Hiredis_LIBRARY and
# Hiredis_VERSION.
#
# Hints: Hiredis_ROOT.

find_path(Hiredis_INCLUDE_DIR NAMES hiredis/hiredis.h hiredis/async.h)
find_library(Hiredis_LIBRARY NAMES hiredis)
mark_as_advanced(Hiredis_INCLUDE_DIR Hiredis_LIBRARY)

if(Hiredis_INCLUDE_DIR AND EXISTS "${Hiredis_INCLUDE_DIR}/hiredis/hiredis.h")
  file(STRINGS "${Hiredis_INCLUDE_DIR}/hiredis/hiredis.h" _hiredis_version_lines
       REGEX "^#define HIREDIS_(MAJOR|MINOR|PATCH) [0-9]+")
  foreach(_line IN LISTS _hiredis_version_lines)
    string(REGEX MATCH "HIREDIS_([A-Z]+) ([0-9]+)" _ "${_line}")
    set(_hiredis_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
  endforeach()
  set(Hiredis_VERSION "${_hiredis_MAJOR}.${_hiredis_MINOR}.${_hiredis_PATCH}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Hiredis
  REQUIRED_VARS Hiredis_LIBRARY Hiredis_INCLUDE_DIR
  VERSION_VAR Hiredis_VERSION)

if(Hiredis_FOUND AND NOT TARGET Hiredis::Hiredis)
  add_library(Hiredis::Hiredis UNKNOWN IMPORTED)
  set_target_properties(Hiredis::Hiredis PROPERTIES
    IMPORTED_LOCATION "${Hiredis_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${Hiredis_INCLUDE_DIR}")
endif()
