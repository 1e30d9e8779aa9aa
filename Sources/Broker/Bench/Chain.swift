import Foundation
import PumasiShared

/// The serial path's floor: the same hops as one Pumasi job (client → broker → evaluator → broker → subscriber,
/// with the receipt back to the client on the way), on the same kind of sockets over loopback TCP, each party on
/// its own thread with its own context as in the benchmark proper, but with no store, no JSON and no logic.
enum Chain {
    /// Runs `jobs` one at a time; the latency of each, in milliseconds, from send to the announcement.
    static func run(jobs: Int) throws -> [Double] {
        let ready = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var endpoints: (router: String, pub: String)?
        let relayContext = try ZMQContext()
        let stop = ZMQStopSignal(context: relayContext)
        let relayDone = DispatchSemaphore(value: 0)
        Thread {
            defer { relayDone.signal() }
            do {
                let router = try ZMQSocket(relayContext, .router)
                try router.bind("tcp://127.0.0.1:*")
                let publisher = try ZMQSocket(relayContext, .pub)
                try publisher.bind("tcp://127.0.0.1:*")
                let control = try stop.makeReceiver()
                endpoints = (try router.lastEndpoint, try publisher.lastEndpoint)
                ready.signal()
                var evaluator: Data?
                var poller = ZMQPoller([router, control])
                while true {
                    let readable = try poller.poll(timeoutMilliseconds: -1)
                    if readable[1] { return }
                    while let message = try router.receive(dontWait: true) {
                        let frames = message.frames
                        guard frames.count == 3 else { continue }
                        switch frames[2] {
                        case Data("ready".utf8): evaluator = frames[0]
                        case Data("result".utf8): try publisher.send([Data("scored".utf8), Data("1".utf8)])
                        default:
                            try router.send([frames[0], Data(), Data("receipt".utf8)])
                            if let evaluator { try router.send([evaluator, Data(), Data("job".utf8)]) }
                        }
                    }
                }
            } catch {
                ready.signal()
            }
        }.start()
        ready.wait()
        guard let (routerEndpoint, pubEndpoint) = endpoints else { throw CocoaError(.featureUnsupported) }
        defer {
            stop.fire()
            relayDone.wait()
        }

        let evaluatorContext = try ZMQContext()
        let evaluatorStop = ZMQStopSignal(context: evaluatorContext)
        let evaluatorReady = DispatchSemaphore(value: 0)
        let evaluatorDone = DispatchSemaphore(value: 0)
        Thread {
            defer { evaluatorDone.signal() }
            do {
                let dealer = try ZMQSocket(evaluatorContext, .dealer)
                try dealer.connect(routerEndpoint)
                try dealer.send([Data(), Data("ready".utf8)])
                let control = try evaluatorStop.makeReceiver()
                evaluatorReady.signal()
                var poller = ZMQPoller([dealer, control])
                while true {
                    let readable = try poller.poll(timeoutMilliseconds: -1)
                    if readable[1] { return }
                    while try dealer.receive(dontWait: true) != nil {
                        try dealer.send([Data(), Data("result".utf8)])
                    }
                }
            } catch {
                evaluatorReady.signal()
            }
        }.start()
        evaluatorReady.wait()
        defer {
            evaluatorStop.fire()
            evaluatorDone.wait()
        }

        let context = try ZMQContext()
        let client = try ZMQSocket(context, .dealer)
        try client.connect(routerEndpoint)
        let subscriber = try ZMQSocket(context, .sub)
        try subscriber.setOption(.subscribe, "scored")
        try subscriber.connect(pubEndpoint)
        // Until the subscription is live and the evaluator registered: a job's announcement arrives.
        var poller = ZMQPoller([subscriber])
        for _ in 0..<500 {
            try client.send([Data(), Data("submit".utf8)])
            if try poller.poll(timeoutMilliseconds: 20)[0] { break }
        }
        usleep(100_000)
        while try subscriber.receive(dontWait: true) != nil {}
        while try client.receive(dontWait: true) != nil {}

        var latencies: [Double] = []
        latencies.reserveCapacity(jobs)
        for _ in 0..<jobs {
            let start = WallClock.monotonicNanos()
            try client.send([Data(), Data("submit".utf8)])
            guard try poller.poll(timeoutMilliseconds: 5_000)[0] else { break }
            _ = try subscriber.receive(dontWait: true)
            latencies.append(Double(WallClock.monotonicNanos() - start) / 1e6)
            while try client.receive(dontWait: true) != nil {}
        }
        return latencies
    }
}
