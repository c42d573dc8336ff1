import Foundation

/// Every spike the asynchronous engine emitted: the raw material of a raster plot showing the wave
/// of activity cross the layers.
///
/// One event per emitted spike: sample (index in the batch plus the run's sample offset), frame
/// (from 0), global forward step of the sample (from 1, counting across frames), population (from
/// 0) and neuron index inside the population. Events are in emission order per sample.
///
/// File format (CSV, UTF-8): a header line `# snn-spike-trace v1 populations=N0,N1,...` (neurons per
/// population), the column line `sample,frame,step,population,neuron`, then one line per event.
public struct SpikeTrace: Sendable, Hashable {
    /// One emitted spike.
    public struct Event: Sendable, Hashable {
        public var sample: Int32
        public var frame: Int32
        public var step: Int32
        public var population: Int32
        public var neuron: Int32
        public init(sample: Int32, frame: Int32, step: Int32, population: Int32, neuron: Int32) {
            self.sample = sample; self.frame = frame; self.step = step; self.population = population; self.neuron = neuron
        }
    }

    /// Neurons per population.
    public var populationSizes: [Int]
    /// The events.
    public var events: [Event]

    public init(populationSizes: [Int], events: [Event] = []) {
        self.populationSizes = populationSizes
        self.events = events
    }

    static let magic = "# snn-spike-trace v1"

    /// The trace as CSV text.
    public func csv() -> String {
        var out = "\(SpikeTrace.magic) populations=\(populationSizes.map(String.init).joined(separator: ","))\n"
        out += "sample,frame,step,population,neuron\n"
        out.reserveCapacity(out.utf8.count + events.count * 16)
        for e in events { out += "\(e.sample),\(e.frame),\(e.step),\(e.population),\(e.neuron)\n" }
        return out
    }

    /// Writes the CSV file.
    public func write(to url: URL) throws {
        try csv().write(to: url, atomically: true, encoding: .utf8)
    }

    /// Reads a CSV trace; errors name the file.
    public static func read(from url: URL) throws -> SpikeTrace {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw SpikeTraceError("spike trace \(url.path): cannot be read as UTF-8 text (\(error.localizedDescription))")
        }
        do { return try parse(text) } catch let e as SpikeTraceError {
            throw SpikeTraceError("spike trace \(url.path): \(e.description)")
        }
    }

    /// The largest population size and event field a trace may hold (a sanity bound on untrusted files).
    public static let maximumPopulationSize = 1 << 28

    /// Parses CSV text. Every field is checked: a malformed header, a line with the wrong number of
    /// fields, a negative index, or an event outside the declared populations is an error naming
    /// the line.
    public static func parse(_ text: String) throws -> SpikeTrace {
        var sizes: [Int]?
        var events: [Event] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                if let r = line.range(of: "populations=") {
                    let list = line[r.upperBound...].split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
                    let items = list.split(separator: ",", omittingEmptySubsequences: false)
                    let parsed = items.map { Int($0.trimmingCharacters(in: .whitespaces)) }
                    guard !items.isEmpty, parsed.allSatisfy({ ($0 ?? 0) > 0 && $0! <= maximumPopulationSize }) else {
                        throw SpikeTraceError("line \(n + 1): header 'populations=' needs positive neuron counts like populations=64,64,10, got '\(list)'")
                    }
                    sizes = parsed.map { $0! }
                }
                continue
            }
            if line.hasPrefix("sample") { continue }
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { Int32($0.trimmingCharacters(in: .whitespaces)) }
            guard f.count == 5, let sample = f[0], let frame = f[1], let step = f[2], let population = f[3], let neuron = f[4] else {
                throw SpikeTraceError("line \(n + 1): expected sample,frame,step,population,neuron (integers), got '\(line.prefix(80))'")
            }
            guard sample >= 0, frame >= 0, step >= 0, population >= 0, neuron >= 0 else {
                throw SpikeTraceError("line \(n + 1): fields must not be negative, got '\(line.prefix(80))'")
            }
            if let sizes {
                guard Int(population) < sizes.count, Int(neuron) < sizes[Int(population)] else {
                    throw SpikeTraceError("line \(n + 1): population \(population) neuron \(neuron) is outside the header's populations \(sizes)")
                }
            }
            events.append(Event(sample: sample, frame: frame, step: step, population: population, neuron: neuron))
        }
        if let sizes { return SpikeTrace(populationSizes: sizes, events: events) }
        // No header: infer the populations from the events.
        var inferred: [Int] = []
        for e in events {
            let p = Int(e.population)
            guard p < 4096 else { throw SpikeTraceError("no populations= header and population index \(p) is implausibly large") }
            while inferred.count <= p { inferred.append(0) }
            inferred[p] = max(inferred[p], Int(e.neuron) + 1)
        }
        return SpikeTrace(populationSizes: inferred, events: events)
    }
}

/// A spike trace that cannot be read: the message names the file (when read from one) and the line.
public struct SpikeTraceError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
