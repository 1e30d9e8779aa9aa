import Foundation

/// The bounded capture of one output stream of a plugin: the first `limit` bytes, plus the last few KiB of
/// whatever came after (so a final JSON line or the end of a traceback survives), and a count of the rest.
struct OutputCapture: Sendable {
    /// Bytes kept from the end of a stream that overflowed `limit`.
    static let tailLimit = 4096

    /// The most bytes kept from the start of the stream.
    let limit: Int
    /// The first `limit` bytes of the stream.
    private(set) var head: [UInt8] = []
    /// Up to `tailLimit` of the last bytes beyond `head`.
    private var tailBuffer: [UInt8] = []
    /// Every byte the stream produced.
    private(set) var totalBytes = 0

    init(limit: Int) {
        self.limit = max(0, limit)
    }

    /// Bytes beyond `head` that are not kept in full.
    var truncatedBytes: Int { totalBytes - head.count }

    /// The last bytes of the stream: at least the last `tailLimit` (or all, if fewer), contiguous.
    var tail: [UInt8] {
        // Until the buffer holds tailLimit bytes none were dropped from it, so it continues the head directly.
        Array(head.suffix(max(0, Self.tailLimit - tailBuffer.count))) + tailBuffer
    }

    /// Records a chunk read from the stream.
    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        totalBytes += chunk.count
        let room = limit - head.count
        if room > 0 {
            head.append(contentsOf: chunk.prefix(room))
        }
        let rest = chunk.dropFirst(max(0, room))
        guard !rest.isEmpty else { return }
        tailBuffer.append(contentsOf: rest.suffix(Self.tailLimit))
        if tailBuffer.count > 2 * Self.tailLimit {
            tailBuffer.removeFirst(tailBuffer.count - Self.tailLimit)
        }
    }

    /// The head as text (invalid UTF-8 replaced), followed by a truncation note if bytes were dropped.
    var text: String {
        let body = String(decoding: head, as: UTF8.self)
        guard truncatedBytes > 0 else { return body }
        return body + (body.hasSuffix("\n") || body.isEmpty ? "" : "\n") + "[… \(truncatedBytes) bytes truncated]\n"
    }

    /// The last `count` non-empty lines of the stream's end, each shortened to `width` characters.
    func lastLines(_ count: Int, width: Int = 200) -> [String] {
        let end = tail
        var lines = String(decoding: end, as: UTF8.self)
            .split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        if end.count < totalBytes, lines.count > 1 {
            lines.removeFirst()  // it starts mid-line
        }
        let kept = lines.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return kept.suffix(count).map { $0.count > width ? String($0.prefix(width)) + "…" : $0 }
    }
}
