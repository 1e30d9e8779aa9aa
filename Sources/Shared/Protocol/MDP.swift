import Foundation

/// 7/MDP (Majordomo 0.1) framing: headers, worker commands, and parsing of what a broker's ROUTER receives.
public enum MDP {
    public static let clientHeader = Data("MDPC01".utf8)
    public static let workerHeader = Data("MDPW01".utf8)

    public enum WorkerCommand: UInt8, Sendable {
        case ready = 1, request = 2, reply = 3, heartbeat = 4, disconnect = 5
    }

    /// A message as the broker's ROUTER sees it, after the routing id frame.
    public enum Inbound: Equatable, Sendable {
        case clientRequest(service: String, body: [Data])
        case workerReady(service: String)
        case workerReply(clientAddress: Data, body: [Data])
        case workerHeartbeat
        case workerDisconnect
    }

    /// Why a message was not valid MDP.
    public struct ParseError: Error, Equatable, CustomStringConvertible, Sendable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Parses the frames after the routing id.
    public static func parse(_ frames: ArraySlice<Data>) throws(ParseError) -> Inbound {
        var rest = frames
        guard let empty = rest.popFirst() else { throw ParseError("empty message") }
        guard empty.isEmpty else { throw ParseError("first frame must be empty (MDP 0.1 delimiter)") }
        guard let header = rest.popFirst() else { throw ParseError("missing protocol header frame") }
        if header == clientHeader {
            guard let serviceFrame = rest.popFirst() else { throw ParseError("client request has no service frame") }
            guard let service = serviceName(serviceFrame) else {
                throw ParseError("service name must be 1-255 bytes of UTF-8")
            }
            return .clientRequest(service: service, body: Array(rest))
        }
        guard header == workerHeader else {
            let shown = String(decoding: header.prefix(16), as: UTF8.self)
            throw ParseError("unknown protocol header \"\(shown)\"; expected MDPC01 or MDPW01")
        }
        guard let commandFrame = rest.popFirst(), commandFrame.count == 1,
            let command = WorkerCommand(rawValue: commandFrame[commandFrame.startIndex])
        else { throw ParseError("missing or unknown worker command") }
        switch command {
        case .ready:
            guard let serviceFrame = rest.popFirst(), rest.isEmpty, let service = serviceName(serviceFrame) else {
                throw ParseError("READY must carry exactly one service name")
            }
            return .workerReady(service: service)
        case .reply:
            guard let address = rest.popFirst(), let delimiter = rest.popFirst(), delimiter.isEmpty else {
                throw ParseError("REPLY must carry a client address and an empty frame")
            }
            return .workerReply(clientAddress: address, body: Array(rest))
        case .heartbeat:
            guard rest.isEmpty else { throw ParseError("HEARTBEAT takes no frames") }
            return .workerHeartbeat
        case .disconnect:
            return .workerDisconnect
        case .request:
            throw ParseError("REQUEST is sent by the broker, never to it")
        }
    }

    /// A service frame's name: 1 to 255 bytes of valid UTF-8, counted in bytes as MDP counts them.
    private static func serviceName(_ frame: Data) -> String? {
        guard (1...255).contains(frame.count) else { return nil }
        return String(validating: frame, as: UTF8.self)
    }

    // MARK: Building messages (without the routing id, which the caller prepends on a ROUTER)

    public static func clientRequest(service: String, body: [Data]) -> [Data] {
        [Data(), clientHeader, Data(utf8: service)] + body
    }

    public static func clientReply(service: String, body: [Data]) -> [Data] {
        [Data(), clientHeader, Data(utf8: service)] + body
    }

    public static func worker(_ command: WorkerCommand, _ frames: [Data] = []) -> [Data] {
        [Data(), workerHeader, Data([command.rawValue])] + frames
    }

    public static func workerRequest(clientAddress: Data, body: [Data]) -> [Data] {
        worker(.request, [clientAddress, Data()] + body)
    }

    public static func workerReply(clientAddress: Data, body: [Data]) -> [Data] {
        worker(.reply, [clientAddress, Data()] + body)
    }
}
