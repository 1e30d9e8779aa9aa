import Foundation
import PumasiShared
import Synchronization

/// How a relay tells its owner what they care about (`pumasi relay --owner --follow --notify`).
public struct NoticeConfig: Sendable {
    public var rules: NoticeRules
    public var targets: [NoticeTarget]
    /// The sendmail-compatible program for `email:` targets, run as `<path> -t -i` with the message on stdin.
    public var sendmailPath = "/usr/sbin/sendmail"
    /// The From address of notice emails.
    public var mailFrom: String
    /// Notices waiting for delivery beyond this are dropped, with a warning.
    public var capacity = 256
    /// The time limit of one sendmail run, and of one webhook request.
    public var timeoutSeconds = 10.0
    /// Tries per webhook notice (the first and the retries).
    public var webhookAttempts = 3
    /// The pause before the first webhook retry; doubled for each further one.
    public var retryDelaySeconds = 1.0

    public init(rules: NoticeRules, targets: [NoticeTarget]) {
        self.rules = rules
        self.targets = targets
        mailFrom = "pumasi-relay@\(ProcessInfo.processInfo.hostName)"
    }
}

/// Delivers notices off the relay's loop: `post(_:)` only queues; one thread of the notifier's own delivers them,
/// in order, to every target. The queue is bounded: a notice that finds it full is dropped with a warning, so a
/// slow mail server or webhook never holds the relay up. A delivery that fails is logged and the next goes on.
///
/// Thread rule: `post` and `stop` from any thread; targets are called on the notifier's thread only.
public final class Notifier: Sendable {
    public let config: NoticeConfig
    private let logger: Logger
    private let terminal: @Sendable (Notice) -> Void
    private let queue = Mutex(Queue())
    private let available = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    private struct Queue {
        var items: [Notice] = []
        var head = 0
        var stopping = false
        var running = false
        var count: Int { items.count - head }
    }

    /// - Parameter terminal: prints a notice for the `terminal` target.
    public init(config: NoticeConfig, logger: Logger, terminal: @escaping @Sendable (Notice) -> Void) {
        self.config = config
        self.logger = logger
        self.terminal = terminal
    }

    /// Starts the delivery thread.
    public func start() {
        let started = queue.withLock { queue in
            defer { queue.running = true }
            return !queue.running
        }
        guard started else { return }
        let thread = Thread { [self] in
            deliverUntilStopped()
            finished.signal()
        }
        thread.name = "pumasi-notices"
        thread.start()
    }

    /// Queues a notice for delivery. - Returns: false when the queue was full (or stopped) and it was dropped.
    @discardableResult
    public func post(_ notice: Notice) -> Bool {
        let queued = queue.withLock { queue in
            guard !queue.stopping, queue.count < config.capacity else { return false }
            queue.items.append(notice)
            return true
        }
        guard queued else {
            logger.warning(
                "notice dropped: the notice queue is full",
                [
                    "capacity": "\(config.capacity)", "announcement.seq": "\(notice.announcement.seq)",
                    "challenge.id": notice.announcement.challenge,
                ])
            return false
        }
        available.signal()
        return true
    }

    /// Stops taking notices, delivers those queued for up to `seconds`, then returns. Those left are logged.
    public func stop(seconds: Double = 5) {
        let running = queue.withLock { queue in
            queue.stopping = true
            return queue.running
        }
        guard running else { return }
        available.signal()
        if finished.wait(timeout: .now() + seconds) == .timedOut {
            logger.warning("notices not delivered before the relay stopped", ["left": "\(queue.withLock { $0.count })"])
        }
    }

    private func deliverUntilStopped() {
        while true {
            available.wait()
            while let notice = next() { deliver(notice) }
            if queue.withLock({ $0.stopping && $0.count == 0 }) { return }
        }
    }

    private func next() -> Notice? {
        queue.withLock { queue in
            guard queue.head < queue.items.count else { return nil }
            let notice = queue.items[queue.head]
            queue.head += 1
            if queue.head > 64, queue.head * 2 > queue.items.count {
                queue.items.removeFirst(queue.head)
                queue.head = 0
            }
            return notice
        }
    }

    /// Delivers one notice to every target; a failure is logged, never thrown.
    func deliver(_ notice: Notice) {
        for target in config.targets {
            switch target {
            case .terminal:
                terminal(notice)
            case .email(let address):
                do {
                    try Sendmail(path: config.sendmailPath, timeoutSeconds: config.timeoutSeconds).send(
                        NoticeEmail(notice, to: address, from: config.mailFrom).message)
                    logger.debug("notice emailed", ["to": address, "announcement.seq": "\(notice.announcement.seq)"])
                } catch {
                    logger.warning(
                        "notice email failed",
                        ["to": address, "announcement.seq": "\(notice.announcement.seq)", "error": "\(error)"])
                }
            case .webhook(let url):
                let hook = Webhook(
                    url: url, timeoutSeconds: config.timeoutSeconds, attempts: config.webhookAttempts,
                    retryDelaySeconds: config.retryDelaySeconds)
                do {
                    try hook.post(NoticePayload(notice).json)
                    logger.debug(
                        "notice posted", ["url": url.absoluteString, "announcement.seq": "\(notice.announcement.seq)"])
                } catch {
                    logger.warning(
                        "notice webhook failed",
                        [
                            "url": url.absoluteString, "announcement.seq": "\(notice.announcement.seq)",
                            "error": "\(error)",
                        ])
                }
            }
        }
    }
}

/// The JSON body of a webhook notice: a short `text`, the event, and the announcement as the broker published it.
struct NoticePayload: Encodable {
    var text: String
    var event: String
    var mine: Bool
    var announcement: Announcement

    init(_ notice: Notice) {
        text = notice.text
        event = notice.announcement.topic.rawValue
        mine = notice.mine
        announcement = notice.announcement
    }

    var json: Data { Wire.encode(self) }
}
