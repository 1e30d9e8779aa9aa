internal import CZlib
import Foundation

/// Raw DEFLATE (RFC 1951) decoding by the system's zlib (`inflate` with a negative window size: no zlib or gzip
/// header), for zip entries. It stops at a size limit instead of trusting the sizes an archive declares: a zip
/// bomb costs at most `limit` bytes of output and the time to produce them.
///
/// Stateless; any thread may call it.
enum Inflate {
    /// Why compressed data could not be decoded.
    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Decodes `input`, a complete raw DEFLATE stream.
    /// - Parameter limit: the most bytes the output may have.
    /// - Throws: `Failure` if the stream is malformed, ends early, has bytes after its end, or decodes to more than
    ///   `limit` bytes.
    static func decompress(_ input: ArraySlice<UInt8>, limit: Int) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(message: "zlib could not start inflating (out of memory?)")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        var status = Z_OK
        var failure: Failure?
        input.withUnsafeBufferPointer { source in
            stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
            stream.avail_in = UInt32(source.count)
            while status == Z_OK {
                chunk.withUnsafeMutableBufferPointer { buffer in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = UInt32(buffer.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    let produced = buffer.count - Int(stream.avail_out)
                    output.append(contentsOf: buffer[..<produced])
                }
                if output.count > limit {
                    failure = Failure(message: "decodes to more than \(limit) bytes")
                    return
                }
                if status == Z_BUF_ERROR, stream.avail_in == 0 {
                    failure = Failure(message: "the stream ends early")
                    return
                }
            }
            if status != Z_STREAM_END, failure == nil {
                let detail = stream.msg.map { String(cString: $0) } ?? String(cString: zError(status))
                failure = Failure(message: "invalid DEFLATE data (\(detail))")
            } else if stream.avail_in != 0, failure == nil {
                failure = Failure(message: "\(stream.avail_in) bytes follow the end of the DEFLATE stream")
            }
        }
        if let failure { throw failure }
        return output
    }
}
