/* liblayermerge — export macro shared by every public header. */
#ifndef LAYERMERGE_API_H
#define LAYERMERGE_API_H

#if defined(_WIN32) && defined(LM_BUILDING_LIBRARY)
#define LM_API __declspec(dllexport)
#elif defined(_WIN32)
#define LM_API __declspec(dllimport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#define LM_API __attribute__((visibility("default")))
#else
#define LM_API
#endif

#ifdef __cplusplus
#define LM_BEGIN_DECLS extern "C" {
#define LM_END_DECLS }
#else
#define LM_BEGIN_DECLS
#define LM_END_DECLS
#endif

#endif /* LAYERMERGE_API_H */
