/// Rewrites the parameters of portable SQL for PostgreSQL: `?` becomes `$1`, `$2` … in order, and `?N` becomes `$N`.
/// Question marks inside string literals, quoted identifiers and comments are left alone.
public enum SQLPlaceholders {
    public static func numbered(_ sql: String) -> String {
        var out: [UInt8] = []
        let bytes = Array(sql.utf8)
        out.reserveCapacity(bytes.count + 8)
        var next = 1
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                // A literal or identifier runs to its closing quote; a doubled quote inside it is an escaped one.
                out.append(byte)
                index += 1
                while index < bytes.count {
                    out.append(bytes[index])
                    index += 1
                    if bytes[index - 1] == byte {
                        if index < bytes.count, bytes[index] == byte {
                            out.append(byte)
                            index += 1
                        } else {
                            break
                        }
                    }
                }
            case UInt8(ascii: "-") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "-"):
                while index < bytes.count, bytes[index] != UInt8(ascii: "\n") {
                    out.append(bytes[index])
                    index += 1
                }
            case UInt8(ascii: "?"):
                index += 1
                var digits: [UInt8] = []
                while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                    digits.append(bytes[index])
                    index += 1
                }
                out.append(UInt8(ascii: "$"))
                if digits.isEmpty {
                    out += Array(String(next).utf8)
                    next += 1
                } else {
                    out += digits
                }
            default:
                out.append(byte)
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
