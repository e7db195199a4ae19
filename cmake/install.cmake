# Installs the libraries, their public headers (under include/spmd/<module>/), the spmd
# command and a CMake package, so that a program can find_package(spmd) and link spmd::spmd.
include(CMakePackageConfigHelpers)

set(SPMD_MODULES common ir launcher collectives partitioner kernels runtime)
foreach(module ${SPMD_MODULES})
  set_target_properties(spmd_${module} PROPERTIES EXPORT_NAME ${module})
  add_library(spmd::${module} ALIAS spmd_${module})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${module}/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/spmd/${module}
          FILES_MATCHING PATTERN "*.h")
endforeach()
# Headers include each other as "module/file.h" (the include/spmd directory); a program
# includes them as <spmd/module/file.h> (the include directory).
target_include_directories(spmd_library INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

list(TRANSFORM SPMD_MODULES PREPEND spmd_ OUTPUT_VARIABLE spmd_module_targets)
install(TARGETS ${spmd_module_targets} spmd_library EXPORT spmdTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS spmd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The CUDA kernels and the NCCL backend link CUDA's libraries, which the package must find again.
get_target_property(collectives_definitions spmd_collectives INTERFACE_COMPILE_DEFINITIONS)
set(SPMD_PACKAGE_NEEDS_CUDA ${SPMD_CUDA_KERNELS})
if("SPMD_HAVE_NCCL" IN_LIST collectives_definitions)
  set(SPMD_PACKAGE_NEEDS_CUDA TRUE)
endif()
set(config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/spmd)
install(EXPORT spmdTargets NAMESPACE spmd:: DESTINATION ${config_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/spmdConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/spmdConfig.cmake INSTALL_DESTINATION ${config_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/spmdConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/spmdConfig.cmake ${PROJECT_BINARY_DIR}/spmdConfigVersion.cmake
        DESTINATION ${config_dir})
