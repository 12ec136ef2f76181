# Per-suite extra link dependencies. Keep each block guarded by if(TARGET ...).

# Audio: test_audio_fft again with FFTW3 as Eigen's FFT backend (SYMFLOW_USE_FFTW), when the
# FFTW3 libraries are installed (Debian: libfftw3-dev). Optional: skipped without them.
if(TARGET test_audio_fft)
  find_path(SYMFLOW_FFTW_INCLUDE_DIR fftw3.h)
  find_library(SYMFLOW_FFTW3_LIB fftw3)
  find_library(SYMFLOW_FFTW3F_LIB fftw3f)
  if(SYMFLOW_FFTW_INCLUDE_DIR AND SYMFLOW_FFTW3_LIB AND SYMFLOW_FFTW3F_LIB)
    add_executable(test_audio_fft_fftw ${CMAKE_CURRENT_SOURCE_DIR}/test_audio_fft.cpp)
    target_include_directories(test_audio_fft_fftw PRIVATE ${SYMFLOW_FFTW_INCLUDE_DIR})
    target_link_libraries(test_audio_fft_fftw PRIVATE symflow_dev symflow_doctest_main
                          ${SYMFLOW_FFTW3F_LIB} ${SYMFLOW_FFTW3_LIB})
    target_compile_definitions(test_audio_fft_fftw PRIVATE SYMFLOW_USE_FFTW SYMFLOW_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
    add_test(NAME test_audio_fft_fftw COMMAND test_audio_fft_fftw)
  endif()
endif()

# test_io_wav: libsndfile as an independent reader/writer of our WAV files (optional).
if(TARGET test_io_wav)
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(SYMFLOW_TEST_SNDFILE QUIET IMPORTED_TARGET sndfile)
    if(TARGET PkgConfig::SYMFLOW_TEST_SNDFILE)
      target_link_libraries(test_io_wav PRIVATE PkgConfig::SYMFLOW_TEST_SNDFILE)
      target_compile_definitions(test_io_wav PRIVATE SYMFLOW_HAVE_SNDFILE=1)
    endif()
  endif()
endif()

# test_cli_audio_input: the audio-file reader of `symflow invert` (examples/symflow/audio_input.hpp)
# with libsndfile + libsamplerate, as the symflow program links them. Without them the suite
# compiles to a single skipped case.
if(TARGET test_cli_audio_input)
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(SYMFLOW_AUDIOIN_SNDFILE QUIET IMPORTED_TARGET sndfile)
    pkg_check_modules(SYMFLOW_AUDIOIN_SAMPLERATE QUIET IMPORTED_TARGET samplerate)
  endif()
  if(TARGET PkgConfig::SYMFLOW_AUDIOIN_SNDFILE AND TARGET PkgConfig::SYMFLOW_AUDIOIN_SAMPLERATE)
    target_link_libraries(test_cli_audio_input PRIVATE PkgConfig::SYMFLOW_AUDIOIN_SNDFILE
                          PkgConfig::SYMFLOW_AUDIOIN_SAMPLERATE)
    target_include_directories(test_cli_audio_input PRIVATE ${PROJECT_SOURCE_DIR}/examples/symflow)
    target_compile_definitions(test_cli_audio_input PRIVATE SYMFLOW_HAVE_AUDIO_INPUT=1)
  endif()
endif()

# test_fuzz_regressions: the inputs the fuzzers (fuzz/) found, replayed through the same entry
# points (audio reader and params-JSON reader of the symflow program: libsndfile, libsamplerate,
# nlohmann-json).
if(TARGET test_fuzz_regressions)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(SYMFLOW_FUZZREG_SNDFILE REQUIRED IMPORTED_TARGET sndfile)
  pkg_check_modules(SYMFLOW_FUZZREG_SAMPLERATE REQUIRED IMPORTED_TARGET samplerate)
  find_package(nlohmann_json 3 REQUIRED)
  target_link_libraries(test_fuzz_regressions PRIVATE PkgConfig::SYMFLOW_FUZZREG_SNDFILE
                        PkgConfig::SYMFLOW_FUZZREG_SAMPLERATE nlohmann_json::nlohmann_json)
  target_include_directories(test_fuzz_regressions PRIVATE ${PROJECT_SOURCE_DIR}/examples/symflow)
endif()
