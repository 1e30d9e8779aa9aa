import Foundation

/// Where a relay delivers its owner's notices (`--notify`).
public enum NoticeTarget: Sendable, Equatable, CustomStringConvertible {
    /// The relay's stdout, one line each, apart from the announcement feed.
    case terminal
    /// An email address, through the host's sendmail interface.
    case email(String)
    /// An HTTP POST of a JSON body to a URL.
    case webhook(URL)

    /// Reads `terminal`, `email:ADDRESS` or `webhook:URL` (http or https).
    /// - Throws: a message for people when `text` is none of them.
    public init(parsing text: String) throws(NoticeTargetError) {
        if text == "terminal" {
            self = .terminal
        } else if text.hasPrefix("email:") {
            let address = String(text.dropFirst("email:".count))
            // One plain address: no display name, no list, nothing that could end a header line.
            guard Self.isPlainAddress(address) else {
                throw NoticeTargetError("email:\(address) is not an address such as email:ada@example.org")
            }
            self = .email(address)
        } else if text.hasPrefix("webhook:") {
            let rest = String(text.dropFirst("webhook:".count))
            guard let url = URL(string: rest), let scheme = url.scheme?.lowercased(),
                scheme == "http" || scheme == "https",
                url.host != nil
            else { throw NoticeTargetError("webhook:\(rest) is not an http or https URL") }
            self = .webhook(url)
        } else {
            throw NoticeTargetError("\(text) is not terminal, email:ADDRESS or webhook:URL")
        }
    }

    public var description: String {
        switch self {
        case .terminal: "terminal"
        case .email(let address): "email:\(address)"
        case .webhook(let url): "webhook:\(url.absoluteString)"
        }
    }

    static func isPlainAddress(_ address: String) -> Bool {
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, address.utf8.count <= 254 else { return false }
        return address.unicodeScalars.allSatisfy {
            $0.value > 32 && $0.value < 127 && !"<>,;\"()[]\\".unicodeScalars.contains($0)
        }
    }
}

public struct NoticeTargetError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
