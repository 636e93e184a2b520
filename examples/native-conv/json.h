/*
 * A minimal JSON reader, enough for case.json: objects, arrays, strings (escapes \" \\ \/ \b \f \n
 * \r \t; \u escapes are kept as '?'), numbers, true, false, null. json_get looks a value up by a
 * dotted path of object keys ("timing.repeat").
 */
#ifndef JSON_H
#define JSON_H

#include <stddef.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value {
  json_type type;
  double number;        /* JSON_NUMBER; JSON_BOOL: 0 or 1 */
  char *string;         /* JSON_STRING */
  char *key;            /* set on the members of an object */
  struct json_value *child, *next; /* JSON_ARRAY / JSON_OBJECT: first element; then the next sibling */
} json_value;

/* Parses a file; on failure returns NULL and writes a message (with the byte offset) into err. */
json_value *json_parse_file(const char *path, char *err, size_t errlen);
json_value *json_parse(const char *text, char *err, size_t errlen);
const json_value *json_get(const json_value *root, const char *dotted_path);
void json_free(json_value *v);

#endif
