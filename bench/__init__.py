"""berth's benchmarks: each module with a ``main()`` measures one thing against its naive way."""
