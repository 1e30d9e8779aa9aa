import Foundation

extension Data {
    /// A string's UTF-8 bytes, copied at once. `Data(text.utf8)` first asks, by a dynamic cast, whether the view is
    /// contiguous bytes: 450 instructions for a 16-byte service name, more than the copy. Used where frames are made
    /// for every job (`MDP`, `Announcement`).
    public init(utf8 text: String) {
        var text = text
        self = text.withUTF8 { Data(buffer: $0) }
    }
}
