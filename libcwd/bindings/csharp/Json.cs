// Json.cs: a small JSON reader and writer, so that the binding needs nothing beyond the
// base class library (Unity's profile included). Objects are Dictionary<string, object>,
// arrays List<object>, integers long (ulong or decimal beyond it), other numbers double,
// then string, bool and null. Use any JSON library you prefer instead: the gateway only
// sees text.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace CrowdWiz
{
    public static class Json
    {
        /// <summary>Parses a JSON text; throws FormatException when it is not JSON.</summary>
        public static object Parse(string text)
        {
            if (text == null) throw new FormatException("no JSON text");
            var p = new Parser(text);
            p.Ws();
            object v = p.Value();
            p.Ws();
            if (p.Pos != text.Length) throw p.Error("trailing characters");
            return v;
        }

        /// <summary>The member `key` of an object, or null when absent (or not an object).</summary>
        public static object Get(object obj, string key)
        {
            var d = obj as Dictionary<string, object>;
            object v;
            return d != null && d.TryGetValue(key, out v) ? v : null;
        }

        /// <summary>Writes a value: dictionaries (string keys), lists and arrays, strings,
        /// numbers, bools and null.</summary>
        public static string Serialize(object value)
        {
            var sb = new StringBuilder();
            Write(sb, value);
            return sb.ToString();
        }

        /// <summary>A JSON string literal (quotes included); also a valid TOML basic string.</summary>
        public static string Quote(string s)
        {
            var sb = new StringBuilder();
            WriteString(sb, s);
            return sb.ToString();
        }

        private static void Write(StringBuilder sb, object v)
        {
            if (v == null) sb.Append("null");
            else if (v is string) WriteString(sb, (string)v);
            else if (v is bool) sb.Append((bool)v ? "true" : "false");
            else if (v is IDictionary)
            {
                sb.Append('{');
                bool first = true;
                foreach (DictionaryEntry e in (IDictionary)v)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    WriteString(sb, (string)e.Key);
                    sb.Append(": ");
                    Write(sb, e.Value);
                }
                sb.Append('}');
            }
            else if (v is IEnumerable)
            {
                sb.Append('[');
                bool first = true;
                foreach (object x in (IEnumerable)v)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    Write(sb, x);
                }
                sb.Append(']');
            }
            else if (v is double || v is float) sb.Append(Convert.ToDouble(v).ToString("R", CultureInfo.InvariantCulture));
            else if (v is IFormattable) sb.Append(((IFormattable)v).ToString(null, CultureInfo.InvariantCulture));
            else throw new ArgumentException("cannot write " + v.GetType() + " as JSON");
        }

        private static void WriteString(StringBuilder sb, string s)
        {
            sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    default:
                        if (c < 0x20 || c == 0x7f) sb.AppendFormat("\\u{0:x4}", (int)c);
                        else sb.Append(c);
                        break;
                }
            }
            sb.Append('"');
        }

        private sealed class Parser
        {
            private readonly string s;
            public int Pos;

            public Parser(string s) { this.s = s; }

            public FormatException Error(string what)
            {
                return new FormatException("JSON: " + what + " at " + Pos);
            }

            public void Ws()
            {
                while (Pos < s.Length && (s[Pos] == ' ' || s[Pos] == '\t' || s[Pos] == '\n' || s[Pos] == '\r')) Pos++;
            }

            private void Expect(string word)
            {
                if (string.CompareOrdinal(s, Pos, word, 0, word.Length) != 0) throw Error("expected " + word);
                Pos += word.Length;
            }

            public object Value()
            {
                if (Pos >= s.Length) throw Error("unexpected end");
                char c = s[Pos];
                switch (c)
                {
                    case '{': return Obj();
                    case '[': return Arr();
                    case '"': return Str();
                    case 't': Expect("true"); return true;
                    case 'f': Expect("false"); return false;
                    case 'n': Expect("null"); return null;
                    default:
                        if (c == '-' || (c >= '0' && c <= '9')) return Num();
                        throw Error("unexpected '" + c + "'");
                }
            }

            private Dictionary<string, object> Obj()
            {
                var d = new Dictionary<string, object>();
                Pos++;
                Ws();
                if (Pos < s.Length && s[Pos] == '}') { Pos++; return d; }
                while (true)
                {
                    Ws();
                    if (Pos >= s.Length || s[Pos] != '"') throw Error("expected a key");
                    string k = Str();
                    Ws();
                    if (Pos >= s.Length || s[Pos] != ':') throw Error("expected ':'");
                    Pos++;
                    Ws();
                    d[k] = Value();
                    Ws();
                    if (Pos >= s.Length) throw Error("unexpected end");
                    if (s[Pos] == ',') { Pos++; continue; }
                    if (s[Pos] == '}') { Pos++; return d; }
                    throw Error("expected ',' or '}'");
                }
            }

            private List<object> Arr()
            {
                var l = new List<object>();
                Pos++;
                Ws();
                if (Pos < s.Length && s[Pos] == ']') { Pos++; return l; }
                while (true)
                {
                    Ws();
                    l.Add(Value());
                    Ws();
                    if (Pos >= s.Length) throw Error("unexpected end");
                    if (s[Pos] == ',') { Pos++; continue; }
                    if (s[Pos] == ']') { Pos++; return l; }
                    throw Error("expected ',' or ']'");
                }
            }

            private string Str()
            {
                var sb = new StringBuilder();
                Pos++;
                while (true)
                {
                    if (Pos >= s.Length) throw Error("unterminated string");
                    char c = s[Pos++];
                    if (c == '"') return sb.ToString();
                    if (c != '\\') { sb.Append(c); continue; }
                    if (Pos >= s.Length) throw Error("unterminated string");
                    char e = s[Pos++];
                    switch (e)
                    {
                        case '"': sb.Append('"'); break;
                        case '\\': sb.Append('\\'); break;
                        case '/': sb.Append('/'); break;
                        case 'b': sb.Append('\b'); break;
                        case 'f': sb.Append('\f'); break;
                        case 'n': sb.Append('\n'); break;
                        case 'r': sb.Append('\r'); break;
                        case 't': sb.Append('\t'); break;
                        case 'u':
                            if (Pos + 4 > s.Length) throw Error("bad \\u escape");
                            sb.Append((char)int.Parse(s.Substring(Pos, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                            Pos += 4;
                            break;
                        default: throw Error("bad escape");
                    }
                }
            }

            private object Num()
            {
                int start = Pos;
                if (s[Pos] == '-') Pos++;
                bool integer = true;
                while (Pos < s.Length)
                {
                    char c = s[Pos];
                    if (c >= '0' && c <= '9') Pos++;
                    else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') { integer = false; Pos++; }
                    else break;
                }
                string t = s.Substring(start, Pos - start);
                if (integer)
                {
                    long l;
                    if (long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out l)) return l;
                    ulong u;
                    if (ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out u)) return u;
                    return decimal.Parse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
                }
                double d;
                if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out d)) throw Error("bad number");
                return d;
            }
        }
    }
}
