"""A value has the wrong type or is out of range.

Reported by the loader at the value, e.g. a group type that is not one of product,
interest, knowledge, resource or marketing, a negative member count, or a text
where a list is expected.

Bad::

    positioning:
      type: 福利
      capacity: -1

Good::

    positioning:
      type: product
      capacity: 200
"""

CODE = "SOP012"
SLUG = "invalid-value"
SEVERITY = "error"
