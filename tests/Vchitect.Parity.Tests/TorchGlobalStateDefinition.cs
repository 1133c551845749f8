using Xunit;

namespace Vchitect.Parity.Tests;

/// <summary>Tests that touch torch's global state (the default generator, thread counts) run one at a time.</summary>
[CollectionDefinition("torch-global-state", DisableParallelization = true)]
public sealed class TorchGlobalStateDefinition
{
}
