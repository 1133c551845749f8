namespace Vchitect.Parity;

/// <summary>
/// Checks one fixture component (the fixture's <c>__metadata__.component</c>) against this library.
/// Implementations are found by reflection: adding a component is adding one class with a public parameterless constructor.
/// </summary>
public interface IParityChecker
{
    /// <summary>The component names this checker handles, e.g. <c>rng</c> or <c>schedulers_ddim</c>.</summary>
    IReadOnlyList<string> Components { get; }

    /// <summary>Builds the component from the fixture's config, runs it on the fixture's inputs and compares every output.</summary>
    IEnumerable<ParityResult> Check(Fixture fixture);
}
