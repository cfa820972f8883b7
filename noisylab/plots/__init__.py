"""Figures: functions that take data frames and arrays and return matplotlib `Figure`s.

They never touch pyplot's global state; saving is done by the caller.
"""
