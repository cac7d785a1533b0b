"""Fit the forecast's parameters to a brand's own groups, and check the fit on held-out days.

``observed`` turns WeCom's customer-group statistics (API or console export) into one daily
series; ``fit`` estimates parameters by the simulated method of moments on the forecast
engine itself; ``backtest`` scores the fitted forecast against two baselines on the last
days. docs/simulation.md ("Calibrate on your own data") has the method.
"""
