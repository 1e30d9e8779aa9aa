import Glibc

/// Owns one file descriptor and closes it exactly once: with `close()`, or in `deinit`.
///
/// Thread rule: used by one thread at a time (it is not `Sendable`).
struct OwnedDescriptor: ~Copyable {
    /// The descriptor, or -1 once closed.
    private(set) var raw: Int32

    init(_ raw: Int32) {
        self.raw = raw
    }

    var isOpen: Bool { raw >= 0 }

    /// Closes the descriptor now. Not retried on EINTR: on Linux the descriptor is released regardless.
    mutating func close() {
        if raw >= 0 {
            _ = Glibc.close(raw)
            raw = -1
        }
    }

    deinit {
        if raw >= 0 {
            _ = Glibc.close(raw)
        }
    }
}
