"""Step-level figures of MiniWoB++ episodes: did each answer parse, was it the right kind of action, did it hit?

``agent eval miniwob`` scores episodes by the task's reward. A model learning the loop needs finer
figures: ``targets`` plays the reference policy on the same seeds through Selenium and keeps, for
each of its steps, the kind of action and the element it pointed at; ``figures`` reads the eval's
run directories and sets each model step beside the reference's step of the same index.
"""
