"""Escalations and credits, split by subject; callers import from here.

routing.py holds tiers, rules and escalations (issue 11); credits.py holds
credit and refund requests with their approval limits (issue 12).
"""
