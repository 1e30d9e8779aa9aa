import Foundation
import PumasiShared

/// How a relay connects and where solvers reach it.
public struct RelayConfig: Sendable {
    public var brokerEndpoint: String
    public var publishEndpoint: String
    /// Where this relay takes requests from local clients (`pumasi submit --broker <this>`).
    public var listenEndpoint = "tcp://127.0.0.1:5557"
    public var timeoutSeconds = 10.0
    /// Announcement topic prefixes to show; "" is all.
    public var topics = [""]

    public init(brokerEndpoint: String, publishEndpoint: String) {
        self.brokerEndpoint = brokerEndpoint
        self.publishEndpoint = publishEndpoint
    }
}

/// `pumasi relay`: the human-facing worker. It shows every announcement as it arrives, noting any gap in
/// the sequence numbers, and forwards the requests local clients make through it to the broker, one at a time.
///
/// Thread rule: create and run on one thread; `stop()` from any thread.
public final class Relay: Sendable {
    public let config: RelayConfig
    private let logger: Logger
    private let context: ZMQContext
    private let stopSignal: ZMQStopSignal
    private let show: @Sendable (Announcement, _ missed: ClosedRange<Int64>?) -> Void

    public init(
        config: RelayConfig, logger: Logger,
        show: @escaping @Sendable (Announcement, _ missed: ClosedRange<Int64>?) -> Void
    ) throws {
        self.config = config
        self.logger = logger
        self.show = show
        context = try ZMQContext()
        stopSignal = ZMQStopSignal(context: context)
    }

    public func stop() { stopSignal.fire() }

    /// Runs until `stop()`. `onReady` receives the bound listen endpoint once the relay is subscribed.
    public func run(onReady: @Sendable (String) -> Void = { _ in }) throws {
        let control = try stopSignal.makeReceiver()
        let subscriber = try ZMQSocket(context, .sub)
        for topic in config.topics { try subscriber.setOption(.subscribe, topic) }
        try subscriber.connect(config.publishEndpoint)
        let frontend = try ZMQSocket(context, .router)
        try frontend.setOption(.routerMandatory, 1)
        try frontend.bind(config.listenEndpoint)
        let listening = try frontend.lastEndpoint
        let client = try BrokerClient(endpoint: config.brokerEndpoint, timeoutSeconds: config.timeoutSeconds, context: context)
        logger.info("relay started", ["broker": config.brokerEndpoint, "pub": config.publishEndpoint, "listen": listening])
        onReady(listening)

        var lastSeq: Int64?
        var poller = ZMQPoller([subscriber, frontend, control])
        while true {
            let ready = try poller.poll(timeoutMilliseconds: -1)
            if ready[2], stopSignal.received(on: control) {
                logger.info("relay stopped")
                return
            }
            if ready[0] {
                while let message = try subscriber.receive(dontWait: true) {
                    guard let announcement = Announcement.parse(message.frames) else {
                        logger.warning("unreadable announcement ignored", ["frames": "\(message.frames.count)"])
                        continue
                    }
                    var missed: ClosedRange<Int64>?
                    if let last = lastSeq, announcement.seq > last + 1 { missed = (last + 1)...(announcement.seq - 1) }
                    lastSeq = max(lastSeq ?? 0, announcement.seq)
                    show(announcement, missed)
                }
            }
            if ready[1] {
                while let message = try frontend.receive(dontWait: true) {
                    forward(message.frames, from: frontend, through: client)
                }
            }
        }
    }

    /// Passes one client request to the broker and its reply back; a client gets a clear error if the broker
    /// does not answer.
    private func forward(_ frames: [Data], from frontend: ZMQSocket, through client: BrokerClient) {
        guard let identity = frames.first else { return }
        let replyFrames: [Data]
        var service = "pumasi.error"
        do {
            guard case .clientRequest(let name, let body) = try MDP.parse(frames.dropFirst()) else {
                throw ProtocolError(.badRequest, "a relay forwards MDP client requests only")
            }
            service = name
            replyFrames = try client.request(service: name, body: body)
        } catch let error as ClientError {
            let failure: ProtocolError =
                switch error {
                case .server(let error): error
                default: ProtocolError(.unavailable, "relay could not reach the broker: \(error)")
                }
            replyFrames = [Wire.encode(Reply<Empty>.failure(failure))]
        } catch let error as ProtocolError {
            replyFrames = [Wire.encode(Reply<Empty>.failure(error))]
        } catch {
            replyFrames = [Wire.encode(Reply<Empty>.failure(ProtocolError(.badRequest, "invalid message: \(error)")))]
        }
        _ = try? frontend.send([identity] + MDP.clientReply(service: service, body: replyFrames), dontWait: true)
    }
}
