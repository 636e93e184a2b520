/* See json.h. */
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *s, *p;
  char *err;
  size_t errlen;
  int failed;
} parser;

static json_value *fail(parser *ps, const char *what) {
  if (!ps->failed) snprintf(ps->err, ps->errlen, "invalid JSON at byte %ld: %s", (long)(ps->p - ps->s), what);
  ps->failed = 1;
  return NULL;
}

static void ws(parser *ps) {
  while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++;
}

static json_value *node(json_type t) {
  json_value *v = calloc(1, sizeof *v);
  if (v) v->type = t;
  return v;
}

static char *parse_string(parser *ps) {
  if (*ps->p != '"') return (char *)fail(ps, "expected a string");
  ps->p++;
  size_t cap = 16, n = 0;
  char *out = malloc(cap);
  while (out && *ps->p != '"') {
    char c = *ps->p++;
    if (c == '\0') {
      free(out);
      return (char *)fail(ps, "unterminated string");
    }
    if (c == '\\') {
      char e = *ps->p++;
      switch (e) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'u':
          for (int i = 0; i < 4 && *ps->p; i++) ps->p++;
          c = '?';
          break;
        case '\0':
          free(out);
          return (char *)fail(ps, "unterminated string");
        default: c = e;
      }
    }
    if (n + 2 > cap) {
      char *grown = realloc(out, cap *= 2);
      if (!grown) free(out);
      out = grown;
    }
    if (out) out[n++] = c;
  }
  if (!out) return (char *)fail(ps, "out of memory");
  out[n] = '\0';
  ps->p++;
  return out;
}

static json_value *parse_value(parser *ps, int depth);

static json_value *parse_container(parser *ps, int depth, int object) {
  json_value *v = node(object ? JSON_OBJECT : JSON_ARRAY), **tail;
  if (!v) return fail(ps, "out of memory");
  tail = &v->child;
  ps->p++;
  ws(ps);
  if (*ps->p == (object ? '}' : ']')) {
    ps->p++;
    return v;
  }
  for (;;) {
    char *key = NULL;
    ws(ps);
    if (object) {
      key = parse_string(ps);
      ws(ps);
      if (!key || *ps->p != ':') {
        free(key);
        json_free(v);
        return fail(ps, "expected \"key\":");
      }
      ps->p++;
    }
    json_value *item = parse_value(ps, depth + 1);
    if (!item) {
      free(key);
      json_free(v);
      return NULL;
    }
    item->key = key;
    *tail = item;
    tail = &item->next;
    ws(ps);
    if (*ps->p == ',') {
      ps->p++;
      continue;
    }
    if (*ps->p == (object ? '}' : ']')) {
      ps->p++;
      return v;
    }
    json_free(v);
    return fail(ps, object ? "expected , or }" : "expected , or ]");
  }
}

static json_value *parse_value(parser *ps, int depth) {
  if (depth > 64) return fail(ps, "nested too deeply");
  ws(ps);
  char c = *ps->p;
  if (c == '{' || c == '[') return parse_container(ps, depth, c == '{');
  if (c == '"') {
    char *s = parse_string(ps);
    if (!s) return NULL;
    json_value *v = node(JSON_STRING);
    if (!v) {
      free(s);
      return fail(ps, "out of memory");
    }
    v->string = s;
    return v;
  }
  if (strncmp(ps->p, "true", 4) == 0 || strncmp(ps->p, "false", 5) == 0) {
    json_value *v = node(JSON_BOOL);
    if (!v) return fail(ps, "out of memory");
    v->number = c == 't';
    ps->p += c == 't' ? 4 : 5;
    return v;
  }
  if (strncmp(ps->p, "null", 4) == 0) {
    ps->p += 4;
    json_value *v = node(JSON_NULL);
    return v ? v : fail(ps, "out of memory");
  }
  char *end;
  double d = strtod(ps->p, &end);
  if (end == ps->p) return fail(ps, "unexpected character");
  ps->p = end;
  json_value *v = node(JSON_NUMBER);
  if (!v) return fail(ps, "out of memory");
  v->number = d;
  return v;
}

json_value *json_parse(const char *text, char *err, size_t errlen) {
  parser ps = {text, text, err, errlen, 0};
  json_value *v = parse_value(&ps, 0);
  ws(&ps);
  if (v && *ps.p != '\0') {
    json_free(v);
    return fail(&ps, "text after the value");
  }
  return v;
}

json_value *json_parse_file(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 4096, n = 0;
  char *text = malloc(cap);
  for (size_t got; text && (got = fread(text + n, 1, cap - n - 1, f)) > 0;) {
    n += got;
    if (n + 1 == cap) {
      char *grown = cap < (1u << 24) ? realloc(text, cap *= 2) : NULL;
      if (!grown) free(text);
      text = grown;
    }
  }
  fclose(f);
  if (!text) {
    snprintf(err, errlen, "%s: too large or out of memory", path);
    return NULL;
  }
  text[n] = '\0';
  char inner[400];
  json_value *v = json_parse(text, inner, sizeof inner);
  free(text);
  if (!v) snprintf(err, errlen, "%s: %s", path, inner);
  return v;
}

const json_value *json_get(const json_value *root, const char *dotted) {
  const json_value *v = root;
  while (v && *dotted) {
    const char *dot = strchr(dotted, '.');
    size_t len = dot ? (size_t)(dot - dotted) : strlen(dotted);
    if (v->type != JSON_OBJECT) return NULL;
    const json_value *m = v->child;
    while (m && !(m->key && strlen(m->key) == len && strncmp(m->key, dotted, len) == 0)) m = m->next;
    v = m;
    dotted += len + (dot ? 1 : 0);
  }
  return v;
}

void json_free(json_value *v) {
  while (v) {
    json_value *next = v->next;
    json_free(v->child);
    free(v->string);
    free(v->key);
    free(v);
    v = next;
  }
}
