import Foundation
import PumasiShared

/// `pumasi evaluate`: one MDP worker connection per scorer service and slot, each on its own thread.
public final class Evaluator: Sendable {
    public let config: EvaluatorConfig
    private let logger: Logger
    private let context: ZMQContext
    private let stops: [ZMQStopSignal]

    public init(config: EvaluatorConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        let context = try ZMQContext()
        self.context = context
        try FileManager.default.createDirectory(atPath: config.cacheDirectory, withIntermediateDirectories: true)
        JobRunner.removeAbandonedWork(in: config.cacheDirectory)
        let count = config.services.count * max(1, config.slots)
        stops = (0..<count).map { _ in ZMQStopSignal(context: context) }
    }

    /// Runs every slot until `stop()`; returns when all have stopped. `onReady` fires once every slot has
    /// sent its first READY.
    public func run(onReady: @escaping @Sendable () -> Void = {}) {
        let group = DispatchGroup()
        let remaining = Countdown(stops.count, then: onReady)
        var index = 0
        for service in config.services {
            for _ in 0..<max(1, config.slots) {
                let stop = stops[index]
                index += 1
                group.enter()
                let thread = Thread { [config, context, logger] in
                    nameCurrentThread("pumasi-slot")
                    // The slot is made on its own thread: its sockets belong to that thread.
                    let slot = EvaluatorSlot(
                        config: config, service: service, context: context, stop: stop, logger: logger,
                        onReady: { remaining.tick() })
                    do { try slot.run() } catch { logger.error("slot failed", ["error": "\(error)"]) }
                    group.leave()
                }
                thread.start()
            }
        }
        group.wait()
    }

    /// Asks every slot to stop once its current job is answered. Any thread.
    public func stop() { stops.forEach { $0.fire() } }
}

/// Calls `then` after `tick()` has been called `count` times. Thread-safe.
final class Countdown: @unchecked Sendable {
    // @unchecked Sendable: `remaining` is only touched under `lock`.
    private let lock = NSLock()
    private var remaining: Int
    private let then: @Sendable () -> Void

    init(_ count: Int, then: @escaping @Sendable () -> Void) {
        remaining = count
        self.then = then
        if count == 0 { then() }
    }

    func tick() {
        lock.lock()
        remaining -= 1
        let fire = remaining == 0
        lock.unlock()
        if fire { then() }
    }
}
