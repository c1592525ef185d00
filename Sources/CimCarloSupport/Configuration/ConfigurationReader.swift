import Foundation

/// Bad input in a run spec or device model file: names the file, the key, and what is allowed.
public struct ConfigurationError: CimCarloError, Equatable {
    public var kind: CimCarloErrorKind { .badInput }
    public var file: String
    /// Dotted key path, e.g. `d2d.sigma`; nil for file-level problems.
    public var key: String?
    public var message: String

    public init(file: String, key: String?, message: String) {
        self.file = file
        self.key = key
        self.message = message
    }

    public var description: String {
        if let key { "\(file): key `\(key)`: \(message)" } else { "\(file): \(message)" }
    }
}

/// Reads typed, range-checked values from one TOML table and remembers which keys it
/// read, so `finish()` can reject unknown (e.g. misspelt) keys.
package final class ConfigurationReader {
    let file: String
    private let prefix: String
    private let table: TOMLTable
    private var known: [String] = []

    /// Reads and parses a TOML file. A missing file or a syntax error is a `ConfigurationError`.
    package static func load(path: String) throws -> (reader: ConfigurationReader, text: String) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ConfigurationError(file: path, key: nil, message: "is a directory, not a TOML file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(
                file: path, key: nil,
                message: FileManager.default.fileExists(atPath: path)
                    ? "cannot read the file" : "no such file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: path, key: nil, message: "is not UTF-8 text")
        }
        return (try ConfigurationReader(file: path, text: text), text)
    }

    /// Parses TOML `text`; `file` names it in errors.
    package convenience init(file: String, text: String) throws {
        do {
            self.init(file: file, table: try TOMLParser.parse(text), prefix: "")
        } catch let error as TOMLSyntaxError {
            throw ConfigurationError(file: file, key: nil, message: "TOML syntax error at \(error)")
        }
    }

    init(file: String, table: TOMLTable, prefix: String) {
        self.file = file
        self.table = table
        self.prefix = prefix
    }

    /// The full dotted path of `key`.
    func path(_ key: String) -> String { prefix.isEmpty ? key : prefix + "." + key }

    /// An error about `key` in this table.
    package func error(_ key: String, _ message: String) -> ConfigurationError {
        ConfigurationError(file: file, key: path(key), message: message)
    }

    package func contains(_ key: String) -> Bool {
        known.append(key)
        return table[key] != nil
    }

    private func raw(_ key: String) -> TOMLValue? {
        known.append(key)
        return table[key]
    }

    private func missing(_ key: String, _ what: String) -> ConfigurationError {
        error(key, "is required (\(what))")
    }

    // MARK: - Scalars

    /// A string, one of `allowed` when given.
    package func string(_ key: String, default defaultValue: String? = nil, allowed: [String]? = nil) throws -> String {
        let what = allowed.map { "one of " + $0.map { "\"\($0)\"" }.joined(separator: ", ") } ?? "a string"
        guard let value = raw(key) else {
            if let defaultValue { return defaultValue }
            throw missing(key, what)
        }
        guard case let .string(text) = value else { throw error(key, "must be \(what), got \(value.typeName)") }
        if let allowed, !allowed.contains(text) { throw error(key, "must be \(what), got \"\(text)\"") }
        return text
    }

    func optionalString(_ key: String) throws -> String? {
        contains(key) ? try string(key) : nil
    }

    /// A number (integer or float) in `range`; `unit` documents it in errors.
    package func double(
        _ key: String, default defaultValue: Double? = nil, in range: ClosedRange<Double>,
        unit: String = ""
    ) throws -> Double {
        let what = describe(range, unit: unit)
        guard let value = raw(key) else {
            if let defaultValue { return defaultValue }
            throw missing(key, what)
        }
        return try number(value, key: key, in: range, what: what)
    }

    package func optionalDouble(_ key: String, in range: ClosedRange<Double>, unit: String = "") throws -> Double? {
        contains(key) ? try double(key, in: range, unit: unit) : nil
    }

    private func number(_ value: TOMLValue, key: String, in range: ClosedRange<Double>, what: String) throws -> Double {
        let number: Double
        switch value {
        case let .integer(integer): number = Double(integer)
        case let .float(float): number = float
        default: throw error(key, "must be a number \(what), got \(value.typeName)")
        }
        guard number.isFinite, range.contains(number) else {
            throw error(key, "must be \(what), got \(format(number))")
        }
        return number
    }

    /// An integer in `range`.
    package func integer(_ key: String, default defaultValue: Int? = nil, in range: ClosedRange<Int>) throws -> Int {
        let what = "an integer from \(range.lowerBound) to \(range.upperBound)"
        guard let value = raw(key) else {
            if let defaultValue { return defaultValue }
            throw missing(key, what)
        }
        guard case let .integer(integer) = value else { throw error(key, "must be \(what), got \(value.typeName)") }
        guard integer >= Int64(range.lowerBound), integer <= Int64(range.upperBound) else {
            throw error(key, "must be \(what), got \(integer)")
        }
        return Int(integer)
    }

    package func bool(_ key: String, default defaultValue: Bool) throws -> Bool {
        guard let value = raw(key) else { return defaultValue }
        guard case let .boolean(flag) = value else { throw error(key, "must be true or false, got \(value.typeName)") }
        return flag
    }

    // MARK: - Arrays and tables

    /// An array of numbers each in `range`, with `count` elements when given.
    package func doubles(
        _ key: String, in range: ClosedRange<Double>, unit: String = "",
        count: ClosedRange<Int> = 1...Int.max
    ) throws -> [Double]? {
        guard let value = raw(key) else { return nil }
        let what = describe(range, unit: unit)
        guard case let .array(elements) = value else {
            throw error(key, "must be an array of numbers \(what), got \(value.typeName)")
        }
        guard count.contains(elements.count) else {
            throw error(
                key,
                count.upperBound == Int.max
                    ? "must have at least \(count.lowerBound) element(s), has \(elements.count)"
                    : "must have \(count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "\(count.lowerBound) to \(count.upperBound)") elements, has \(elements.count)"
            )
        }
        return try elements.map { try number($0, key: key, in: range, what: what) }
    }

    /// An array of strings.
    package func strings(_ key: String) throws -> [String]? {
        guard let value = raw(key) else { return nil }
        guard case let .array(elements) = value else {
            throw error(key, "must be an array of strings, got \(value.typeName)")
        }
        return try elements.map { element in
            guard case let .string(text) = element else {
                throw error(key, "must hold strings only, found \(element.typeName)")
            }
            return text
        }
    }

    /// A sub-table, or nil when absent.
    package func table(_ key: String) throws -> ConfigurationReader? {
        guard let value = raw(key) else { return nil }
        guard case let .table(child) = value else { throw error(key, "must be a table, got \(value.typeName)") }
        return ConfigurationReader(file: file, table: child, prefix: path(key))
    }

    /// The raw value, for keys that accept several shapes (a number or a table).
    package func value(_ key: String) -> TOMLValue? { raw(key) }

    /// A reader over a table value obtained with `value(_:)`.
    package func reader(for value: TOMLTable, key: String) -> ConfigurationReader {
        ConfigurationReader(file: file, table: value, prefix: path(key))
    }

    /// Throws for the first key in this table that was never asked for.
    package func finish() throws {
        let allowed = Set(known)
        if let unknown = table.keys.first(where: { !allowed.contains($0) }) {
            var ordered: [String] = []
            for key in known where !ordered.contains(key) { ordered.append(key) }
            throw error(unknown, "unknown key (allowed here: \(ordered.joined(separator: ", ")))")
        }
    }

    private func describe(_ range: ClosedRange<Double>, unit: String) -> String {
        let suffix = unit.isEmpty ? "" : " " + unit
        switch (range.lowerBound.isInfinite, range.upperBound.isInfinite) {
        case (true, true): return "(any finite value\(suffix))"
        case (false, true): return "≥ \(format(range.lowerBound))\(suffix)"
        case (true, false): return "≤ \(format(range.upperBound))\(suffix)"
        case (false, false): return "from \(format(range.lowerBound)) to \(format(range.upperBound))\(suffix)"
        }
    }

    private func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }
}
